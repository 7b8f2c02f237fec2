import numpy as np
import pytest

from mjpod.render import grid


def test_layout_is_near_square_unless_told():
    assert grid.layout(1) == (1, 1)
    assert grid.layout(4) == (2, 2)
    assert grid.layout(5) == (2, 3)
    assert grid.layout(5, cols=5) == (1, 5)
    assert grid.layout(3, cols=9) == (1, 3)  # never wider than the tiles
    with pytest.raises(ValueError):
        grid.layout(0)


def test_tiles_go_row_by_row_and_gaps_stay_black():
    images = np.stack([np.full((2, 3, 3), v, np.uint8) for v in (10, 20, 30)])
    frame = grid.tile(images, cols=2)
    assert frame.shape == (4, 6, 3)
    assert frame[0, 0, 0] == 10 and frame[0, 3, 0] == 20 and frame[2, 0, 0] == 30
    assert not frame[2:, 3:].any()
