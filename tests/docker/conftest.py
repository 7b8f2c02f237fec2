import shutil

import pytest

from tests.docker.appliance import make_root


@pytest.fixture
def sandbox():
    """A private root for one appliance (see make_root), removed afterwards."""
    root = make_root()
    yield root
    shutil.rmtree(root, ignore_errors=True)
