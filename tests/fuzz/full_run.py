"""The config fuzzer at full count, on demand (issue #17): chunked, over at most two worker
processes, resumable.

    python -m tests.fuzz.full_run --labs regions,recon --runs 1000 --count 1000 --seed 0 \\
        --jobs 2 --report /tmp/fuzz.jsonl

Every chunk (``CHUNK_RUNS`` random valid runs or ``CHUNK_HOSTILE`` hostile values through
every entry path of one lab, :mod:`tests.fuzz.fuzz_configs`) draws from its own seeded
generator ``(seed, lab, part, chunk)``, so a chunk gives the same cases whatever ran before
it. Each finished chunk is appended to the report (one JSON line); run the same command
again and only the chunks missing from the report run (``--fresh`` starts over). The table
(ok / clear error / crash / silent NaN / hung per lab and part), the slowest runs and the
examples of every crash / NaN / hang are printed from the whole report.
"""
from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

CHUNK_RUNS = 25
CHUNK_HOSTILE = 250
CHUNK_CLI = 10          # hostile values through ``main.py results`` in a subprocess each
PARTS = ("runs", "hostile", "cli")
MAX_JOBS = 2            # the machine is shared: never more than two processes
SLOWEST_KEPT = 3        # slowest runs kept per chunk (and printed per lab)


def plan(labs: list, runs: int, count: int, seed: int, cli: int = 0) -> list[dict]:
    """The chunks of a full run: ``{"lab", "part", "index", "n", "seed"}`` each (``cli``:
    hostile values through the command line as a subprocess, :mod:`tests.fuzz.cli_path`)."""
    chunks = []
    for lab in labs:
        for part, total, size in (("runs", runs, CHUNK_RUNS), ("hostile", count, CHUNK_HOSTILE),
                                  ("cli", cli, CHUNK_CLI)):
            for index in range(-(-total // size)):
                n = min(size, total - index * size)
                chunks.append({"lab": lab, "part": part, "index": index, "n": n, "seed": seed})
    return chunks


def chunk_key(chunk: dict) -> tuple:
    """What identifies a chunk in the report."""
    return (chunk["lab"], chunk["part"], chunk["index"], chunk["n"], chunk["seed"])


def chunk_rng(chunk: dict) -> np.random.Generator:
    """The chunk's own generator: ``(seed, lab, part, index)``."""
    return np.random.default_rng([chunk["seed"], sum(map(ord, chunk["lab"])),
                                  PARTS.index(chunk["part"]), chunk["index"]])


def run_chunk(chunk: dict) -> dict:
    """Run one chunk in this process; the report record (counts, examples, longest step
    without a report, slowest runs, seconds)."""
    from app.registry import LABS
    from tests.fuzz import fuzz_configs as fz
    spec = LABS[chunk["lab"]]
    cls, rng, t0 = spec.config_class(), chunk_rng(chunk), time.perf_counter()
    counts, examples, gap, slowest = Counter(), {}, [0.0, ""], []
    if chunk["part"] == "runs":
        run = spec.run_entry()
        for _ in range(chunk["n"]):
            cfg = fz.random_config(cls, chunk["lab"], rng)
            gaps, start = [], time.perf_counter()
            outcome, detail = fz.run_case(run, cfg, chunk["lab"], gaps)
            seconds, brief = time.perf_counter() - start, fz._brief(cfg)
            _tally(counts, examples, outcome, f"{detail} ← {_whole(cfg)}", runs=True)
            slowest = sorted(slowest + [[seconds, _whole(cfg)]], reverse=True)[:SLOWEST_KEPT]
            if gaps and gaps[0][0] > gap[0]:
                gap = [gaps[0][0], f"{gaps[0][1]} ← {brief}"]
    elif chunk["part"] == "hostile":
        start = chunk["index"] * CHUNK_HOSTILE
        for i, (name, value) in enumerate(fz.hostile_cases(cls, rng, chunk["n"], start)):
            for path, check in fz.PATHS.items():
                outcome, detail = check(cls, name, value)
                _tally(counts, examples, outcome,
                       f"{path} {_hostile(name, value, start + i)}: {detail}", runs=False)
    else:
        from tests.fuzz.cli_path import through_cli_process
        start = chunk["index"] * CHUNK_CLI
        for i, (name, value) in enumerate(fz.hostile_cases(cls, rng, chunk["n"], start)):
            outcome, detail = through_cli_process(chunk["lab"], cls, name, value)
            _tally(counts, examples, outcome,
                   f"main.py results --lab {chunk['lab']} {_hostile(name, value, start + i)}: "
                   f"{detail}", runs=False)
    return {**chunk, "counts": dict(counts), "examples": examples, "gap": gap,
            "slowest": slowest, "seconds": time.perf_counter() - t0}


def _whole(cfg) -> str:
    """Every field of the config as text (drawn points included: at most 20 rows), to rerun
    a case by hand: ``Config(**that)``."""
    import dataclasses
    return f"{type(cfg).__name__}(**{dataclasses.asdict(cfg)!r})"


def _hostile(name: str, value, index: int) -> str:
    """The hostile case as text to rerun by hand: the field (the other fields at their
    defaults) and the value, with its place in ``hostile_values()``."""
    from tests.fuzz import fuzz_configs as fz
    number = index % len(fz.hostile_values())
    return f"{name}=hostile_values()[{number}] ({fz._short(value)})"


def _tally(counts: Counter, examples: dict, outcome: str, detail: str, runs: bool) -> None:
    counts[outcome] += 1
    if outcome in ("crash", "nan", "hung") or (runs and outcome == "clear"):
        kept = examples.setdefault(outcome, [])
        if len(kept) < 5:
            kept.append(detail[:6000])


def _init_worker() -> None:
    """One torch thread, no warnings (restore_config logs every field it resets), and a
    user folder of its own (checkpoints a run writes stay out of the user's)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ["FLOWSCOPE_HOME"] = tempfile.mkdtemp(prefix="flowscope-fuzz-")
    logging.disable(logging.WARNING)
    import torch
    torch.set_num_threads(1)


def read_report(path: Path) -> list[dict]:
    """Every chunk record of the report (a torn last line from a kill is skipped)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def execute(chunks: list, report: Path, jobs: int, log=print) -> None:
    """Run ``chunks`` over ``jobs`` (≤ :data:`MAX_JOBS`) processes, appending each record to
    ``report`` as it finishes."""
    jobs = max(1, min(int(jobs), MAX_JOBS))
    report.parent.mkdir(parents=True, exist_ok=True)
    with report.open("a") as out:
        if jobs == 1:
            _init_worker()
            for chunk in chunks:
                _write(out, run_chunk(chunk), log)
            return
        # multiprocessing.Pool: fresh workers every 20 chunks (memory), which
        # ProcessPoolExecutor(max_tasks_per_child=…) deadlocks on in Python 3.11
        with multiprocessing.get_context("spawn").Pool(
                jobs, initializer=_init_worker, maxtasksperchild=20) as pool:
            for record in pool.imap_unordered(run_chunk, chunks):
                _write(out, record, log)


def _write(out, record: dict, log) -> None:
    out.write(json.dumps(record) + "\n")
    out.flush()
    log(f"{record['lab']} {record['part']} chunk {record['index']}: {record['counts']} "
        f"in {record['seconds']:.0f} s")


def summarise(records: list) -> dict:
    """Per lab: ``runs`` / ``hostile`` Counters, ``gap``, ``slowest``, ``examples``,
    ``seconds`` (the shape :func:`tests.fuzz.fuzz_configs.table` prints)."""
    out: dict = {}
    for r in records:
        lab = out.setdefault(r["lab"], {**{part: Counter() for part in PARTS}, "examples": {},
                                        "gap": (0.0, ""), "slowest": [], "seconds": 0.0})
        lab[r["part"]].update(r["counts"])
        lab["seconds"] += r["seconds"]
        for outcome, details in r["examples"].items():
            lab["examples"].setdefault(outcome, []).extend(details)
        if r["gap"][0] > lab["gap"][0]:
            lab["gap"] = tuple(r["gap"])
        lab["slowest"] = sorted(lab["slowest"] + r["slowest"], reverse=True)[:SLOWEST_KEPT]
    return out


def print_summary(results: dict, examples: int = 5) -> int:
    """Print the table, the slowest runs and the examples; the count of crash/nan/hung."""
    from tests.fuzz.fuzz_configs import table
    print(table(results))
    for lab, out in results.items():
        print(f"{lab}: {out['seconds']:.0f} s of work; slowest runs "
              + "; ".join(f"{s:.1f} s {b}" for s, b in out["slowest"]))
        if out["gap"][1]:
            print(f"{lab} longest step without a report: {out['gap'][0]:.1f} s {out['gap'][1]}")
        for outcome, details in out["examples"].items():
            for detail in details[:examples]:
                print(f"{lab} {outcome}: {detail}")
    return sum(out[part][o] for out in results.values() for part in PARTS
               for o in ("crash", "nan", "hung"))


def main(argv=None) -> int:
    from app.registry import LABS
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labs", default=",".join(LABS), help="comma-separated lab names")
    p.add_argument("--runs", type=int, default=1000, help="random valid runs per lab")
    p.add_argument("--count", type=int, default=1000, help="hostile values per lab (× paths)")
    p.add_argument("--cli", type=int, default=0,
                   help="hostile values per lab through main.py results in a subprocess each")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=MAX_JOBS, help=f"processes (≤ {MAX_JOBS})")
    p.add_argument("--report", type=Path, default=Path("out/fuzz-report.jsonl"))
    p.add_argument("--fresh", action="store_true", help="forget the report's chunks")
    p.add_argument("--examples", type=int, default=5, help="details printed per outcome")
    p.add_argument("--table-only", action="store_true",
                   help="print the report's table without running the missing chunks")
    args = p.parse_args(argv)
    labs = [s.strip() for s in args.labs.split(",") if s.strip()]
    unknown = [lab for lab in labs if lab not in LABS]
    if unknown:
        p.error(f"unknown lab(s) {', '.join(unknown)}; labs: {', '.join(LABS)}")
    if args.fresh and args.report.exists():
        args.report.unlink()
    chunks = plan(labs, args.runs, args.count, args.seed, args.cli)
    done = {chunk_key(r) for r in read_report(args.report)}
    todo = [c for c in chunks if chunk_key(c) not in done]
    print(f"{len(chunks) - len(todo)} of {len(chunks)} chunks already in {args.report}"
          + ("" if args.table_only else f"; running {len(todo)} over "
             f"{min(args.jobs, MAX_JOBS)} process(es)"), flush=True)
    if not args.table_only:
        execute(todo, args.report, args.jobs, lambda m: print(m, flush=True))
    wanted = {chunk_key(c) for c in chunks}
    records = {chunk_key(r): r for r in read_report(args.report) if chunk_key(r) in wanted}
    return 1 if print_summary(summarise(list(records.values())), args.examples) else 0


if __name__ == "__main__":
    raise SystemExit(main())
