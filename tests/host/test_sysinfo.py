"""host/sysinfo: nvidia-smi's CSV read into GPUs, and which GPU is CUDA device N of a process."""

import pytest

from mjpod.host import sysinfo
from tests import nvidia_smi

GPUS = [sysinfo._gpu(line) for line in nvidia_smi.H100_X8.splitlines()]


def test_a_line_of_nvidia_smi_is_one_gpu():
    gpu = sysinfo._gpu(nvidia_smi.H100)
    assert gpu == sysinfo.Gpu(
        "NVIDIA H100 80GB HBM3", "580.65.06", 81559, 0, "GPU-3f1c7a52-9d0e-4b6a-8c21-5e7f0a9b1c2d",
        "00000000:18:00.0", False,
    )  # fmt: skip
    assert [sysinfo._gpu(line).mig for line in nvidia_smi.A100_MIG.splitlines()] == [True, False]


@pytest.mark.parametrize(
    ("ordinal", "visible", "index"),
    [
        (3, None, 3),  # nvidia-smi's order when nothing is hidden
        (0, "3,1", 3),  # CUDA_VISIBLE_DEVICES reorders
        (1, "3,1", 1),
        (0, "GPU-00000005", 5),  # by UUID (a prefix is enough, as for CUDA)
        (2, "3,1", None),  # not visible
        (0, "MIG-5c3a8f2e-1b7d-5e0a-9c4f-2d6b8e1a3f70", None),  # a slice: nvidia-smi lists whole GPUs
    ],
)
def test_which_gpu_is_cuda_device_n(ordinal, visible, index):
    gpu = sysinfo.gpu_for(ordinal, GPUS, visible)
    assert (gpu.index if gpu else None) == index
