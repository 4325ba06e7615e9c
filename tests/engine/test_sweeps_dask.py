"""engine.sweeps on Dask: an embedded 2-worker LocalCluster gives the serial numbers although
a worker process is killed mid-sweep (Dask reschedules its points); a separately started
``dask scheduler`` + ``dask worker`` on localhost (the remote-cluster code path) runs a lab's
sweep. The killed-worker test sweeps a torch-free seeded target (tests/engine/sweep_toy.py)
so its workers start in about a second; the scheduler test runs the gradient-flow lab's
reduced-ODE target."""
import os
import pathlib
import signal
import socket
import subprocess
import sys

import pandas as pd
import pytest

from engine.core import drain
from engine.gradient_flow import FlowConfig
from engine.sweeps import TARGETS, Sweep, load_sweep, run_sweep
from tests.engine.sweep_toy import TOY, WalkConfig

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _numbers(table):
    return table.drop(columns="seconds").sort_values("point").reset_index(drop=True)


def _kill_a_busy_worker(scheduler: str) -> int:
    """SIGKILL a worker process that is running a point now; return its pid."""
    from distributed import Client
    with Client(scheduler, timeout=30) as client:
        busy = [addr for addr, keys in client.processing().items() if keys]
        pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
    os.kill(pid, signal.SIGKILL)
    return pid


def _run_killing_a_worker(gen):
    """Drain ``gen``; after the first finished point SIGKILL a busy worker process."""
    killed, seen = None, []
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value, killed, seen
        if p.partial:
            seen.append(p.partial)
            if killed is None:
                killed = _kill_a_busy_worker(p.partial["scheduler"])


def test_local_cluster_gives_the_serial_results_despite_a_killed_worker(tmp_path, monkeypatch):
    monkeypatch.setitem(TARGETS, TOY.name, TOY)
    sweep = Sweep(TOY.name, WalkConfig(pause=0.25), {"drift": [0.0, 0.5, 1.0]}, 2,
                  ["end", "spread"])
    table, killed, seen = _run_killing_a_worker(
        run_sweep(sweep, executor="dask", workers=2, store=tmp_path / "s"))
    assert killed is not None and (table["error"] == "").all() and len(table) == 6
    done = [s["done"] for s in seen]
    assert done == sorted(done) and done[0] < 6 and done[-1] == 6
    assert seen[0]["dashboard"].startswith("http") and seen[0]["workers"] == 2
    serial = drain(run_sweep(sweep, executor="local"))
    assert serial["end"].nunique() == 6                     # seeds and drifts all differ
    pd.testing.assert_frame_equal(_numbers(table), _numbers(serial))
    pd.testing.assert_frame_equal(_numbers(load_sweep(tmp_path / "s")), _numbers(serial))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def scheduler_and_worker():
    """``dask scheduler`` and ``dask worker`` as separate processes on random ports."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    port = str(_free_port())
    address = f"tcp://127.0.0.1:{port}"
    quiet = dict(cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                               "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
                              **quiet)]
    procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                   "--nthreads", "1", "--no-nanny", "--no-dashboard"],
                                  **quiet))
    try:
        yield address
    finally:
        for p in reversed(procs):         # nothing to save: no graceful shutdown
            p.kill()
            p.wait(timeout=20)


def test_sweep_on_a_separately_started_scheduler_and_worker(scheduler_and_worker):
    from distributed import Client
    with Client(scheduler_and_worker, timeout=30) as client:
        client.wait_for_workers(1, timeout=120)
    # the gradient-flow lab's reduced-ODE target: one point per task on the worker, one
    # batched call here (its batch hook) -- the same numbers
    sweep = Sweep("gradient-flow/reduced", FlowConfig(), {"depth": [2, 3]}, 1,
                  ["convergence_time"])
    table = drain(run_sweep(sweep, executor=scheduler_and_worker))
    assert (table["error"] == "").all() and len(table) == 2
    pd.testing.assert_frame_equal(_numbers(table), _numbers(drain(run_sweep(sweep, "local"))))
