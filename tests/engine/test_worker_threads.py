"""A generator driven by a worker thread runs torch with the process's thread count (#16).

Known answer: OpenMP's thread count is per thread. A fresh thread starts at OpenMP's default
(one per core; set to 3 here, whatever the machine and ``OMP_NUM_THREADS``); after
:func:`adopt_torch_threads` (and after a regions run, which calls it) the worker's own OpenMP
count, read from libgomp itself, equals ``torch.get_num_threads()`` of the process (1 here).
"""
import ctypes
import threading
from pathlib import Path

import pytest
import torch

from engine.core import drain
from engine.core.device import adopt_torch_threads
from engine.regions import RegionsConfig, run_config

TINY = RegionsConfig(dataset="xor", n_points=8, width=4, steps=5, n_seeds=1, grid=32,
                     snapshots=2)


def _libgomp():
    found = sorted(Path(torch.__file__).parent.joinpath("lib").glob("libgomp*.so*"))
    if not found:
        pytest.skip("this torch build has no libgomp (OpenMP) to read")
    return ctypes.CDLL(str(found[0]))


def _worker_openmp_threads(job) -> int:
    """OpenMP's max threads seen by a fresh thread (started at 3) after ``job()`` ran in it."""
    gomp, seen = _libgomp(), []

    def work():
        gomp.omp_set_num_threads(3)           # OpenMP's default on a 3-core machine
        job()
        seen.append(gomp.omp_get_max_threads())
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return seen[0]


@pytest.fixture
def one_torch_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_a_fresh_thread_keeps_openmp_default_until_it_adopts(one_torch_thread):
    assert _worker_openmp_threads(lambda: torch.ones(4).sum()) == 3
    assert _worker_openmp_threads(adopt_torch_threads) == 1


def test_a_regions_run_adopts_before_its_first_report(one_torch_thread):
    """At the first report no torch op has run (one could set the count as a side effect)."""
    assert _worker_openmp_threads(lambda: next(run_config(TINY))) == 1
    assert _worker_openmp_threads(lambda: drain(run_config(TINY))) == 1


def test_numpy_blas_gets_the_same_count(one_torch_thread):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    threadpoolctl.threadpool_limits(limits=2, user_api="blas")     # one per core of 2
    adopt_torch_threads()
    blas = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)
