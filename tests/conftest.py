"""Test-wide settings: sessions/autosave go to a temporary folder, never the user's."""
import os
import tempfile

os.environ.setdefault("FLOWSCOPE_HOME", tempfile.mkdtemp(prefix="flowscope-test-"))
# The Radon operator's disk cache (engine/imaging/operator_cache.py) too: never the user's cache.
os.environ.setdefault("FLOWSCOPE_CACHE_DIR", tempfile.mkdtemp(prefix="flowscope-cache-"))

# Opt-in memory report (FLOWSCOPE_TEST_RSS=1): the process's resident memory after every test,
# and at the end the growth per app test (the suite once grew ~40 MB per GUI test).
RSS_REPORT = bool(os.environ.get("FLOWSCOPE_TEST_RSS"))
_rss_rows: list[tuple[str, float]] = []


def resident_mb() -> float:
    """This process's resident set size in MB (Linux ``/proc``; else the peak from getrusage)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pytest_runtest_logfinish(nodeid, location):
    if RSS_REPORT:
        _rss_rows.append((nodeid, resident_mb()))


def pytest_terminal_summary(terminalreporter):
    if not RSS_REPORT or len(_rss_rows) < 2:
        return
    write = terminalreporter.write_line
    steps = [(b[1] - a[1], b[0]) for a, b in zip(_rss_rows, _rss_rows[1:])]
    app = [d for d, node in steps if node.startswith("tests/app/")]
    write(f"RSS: {_rss_rows[0][1]:.0f} MB after the first test, {_rss_rows[-1][1]:.0f} MB "
          f"at the end, {len(_rss_rows)} tests")
    if app:
        late = app[len(app) // 2:]     # after the one-time costs (imports, first runs, caches)
        write(f"RSS growth per app test (after the first): {sum(app) / len(app):.1f} MB "
              f"mean over {len(app)}, {sum(late) / len(late):.1f} MB over the last {len(late)}")
    for grew, node in sorted(steps, reverse=True)[:5]:
        write(f"  {grew:+7.1f} MB  {node}")
