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


@pytest.fixture
def cvxpy_clarabel():
    """The ``cvxpy`` module with the Clarabel solver (test-only peer); skips without them."""
    cp = pytest.importorskip("cvxpy")
    if "CLARABEL" not in cp.installed_solvers():
        pytest.skip("Clarabel not installed")
    return cp
