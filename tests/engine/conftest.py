"""Engine tests: one torch intra-op thread (small batches are as fast, and far steadier on a
shared 2-core machine)."""
import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
