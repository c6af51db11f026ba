"""Shared fixtures: every test gets its own HOME and XDG dirs, and an in-memory keychain.

Nothing a test runs can write into the real home directory, and the real keychain is
touched only by the test marked `keychain` (which runs under .ci/run).
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

import keyring
import pytest

from tests.support_keyring import MemoryKeyring


def _bytecode_outside_the_tree() -> None:
    """Cache bytecode in the temp dir when PYTHONDONTWRITEBYTECODE forbids the tree's.

    Some sandboxes and CI images set PYTHONDONTWRITEBYTECODE=1; then every xdist worker
    compiles and assert-rewrites every module again on every run (~2.5 s of each
    worker's collection), and so does every `keyturn` the tests start. Caching under the
    temp dir keeps the tree as clean as the variable wants it. Set here, at the start of
    the run, before the workers and children are started: they inherit it.
    """
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    getuid = getattr(os, "getuid", lambda: "user")
    prefix = os.path.join(tempfile.gettempdir(), f"keyturn-tests-pycache-{getuid()}")
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    sys.dont_write_bytecode = False
    sys.pycache_prefix = prefix
    _seed(prefix)


SKIPPED = frozenset({"site-packages", "dist-packages", "test", "tests", "idlelib", "tkinter",
                     "turtledemo", "lib2to3", "ensurepip"})


def _seed(prefix: str) -> None:
    """Copy the bytecode the interpreter and the venv already have into the cache.

    Under a cache prefix Python looks for every module's bytecode there only, the
    standard library's and the installed packages' too: on a fresh clone (a new path, a
    new venv) the four workers and every child compiled Textual, rich, httpx, pydantic
    and the standard library from source, all at once (~20 MB of bytecode; CI ran
    15-20 s slower than a warm run). Their __pycache__ holds the same bytecode, valid for
    the same sources; copied once here, before any worker starts, it is found. Files
    already cached are left alone (a warm run walks the folders and copies nothing).
    """
    tag = sys.implementation.cache_tag
    if tag is None:
        return
    suffix = f".{tag}.pyc"
    paths = sysconfig.get_paths()
    roots = {paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib") if name in paths}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            # Another environment's packages (the interpreter's own site-packages under
            # the standard library) and test suites: never imported here.
            dirs[:] = [d for d in dirs if d not in SKIPPED]
            if os.path.basename(folder) != "__pycache__":
                continue
            target = os.path.join(prefix, os.path.dirname(folder).lstrip(os.sep))
            for name in files:
                if not name.endswith(suffix) or os.path.exists(os.path.join(target, name)):
                    continue
                try:
                    os.makedirs(target, exist_ok=True)
                    shutil.copyfile(os.path.join(folder, name), os.path.join(target, name))
                except OSError:
                    return  # a full or read-only temp dir: the modules compile as before


_bytecode_outside_the_tree()


def _five_frames_a_second() -> None:
    """Dashboards under test draw at most 5 frames a second instead of Textual's 60.

    A test moves the FakeClock a probe interval at a time; at 60 frames a second nearly
    every step painted a frame (the dashboards' share of the suite's CPU fell by about a
    quarter at 5). What a test asserts comes from the widgets' state, and a test that reads
    the screen itself asks for the frame it reads (`frame` in tests/support_app.py, as
    Pilot.pause does). TEXTUAL_FPS is read when Textual is imported: the variable reaches
    the xdist workers and every child process; this process imported Textual already (the
    snapshot plugin), so its screens get the same period directly. A TEXTUAL_FPS set by
    whoever runs the suite wins.
    """
    os.environ.setdefault("TEXTUAL_FPS", "5")
    import textual.screen

    textual.screen.UPDATE_PERIOD = 1 / max(1, int(os.environ["TEXTUAL_FPS"]))


_five_frames_a_second()


def pytest_configure(config: pytest.Config) -> None:
    """Every test process collects garbage less often; the controller, before any worker
    starts, compiles the project's modules once.

    The dashboard tests allocate millions of short-lived objects (Textual's strips and
    segments): at CPython's default threshold a young collection ran every 700
    allocations and, every hundred of those, a full one through every module loaded.
    At 10,000 the dashboard and rollout tests took about 12 % less CPU. Tests that count
    memory call gc.collect() themselves.

    On a fresh clone every xdist worker would otherwise compile the same modules at the
    same time (each its own copy); compiled here, they find the bytecode cached. Test
    modules are compiled by pytest's assertion rewriter in each worker, as always."""
    gc.set_threshold(10_000, 10, 10)
    if hasattr(config, "workerinput"):
        return  # an xdist worker: the controller did it
    import compileall

    root = Path(__file__).resolve().parent.parent
    for package in ("providers", "tui"):
        compileall.compile_dir(root / package, quiet=1)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection loaded (Textual, the project, every test module) stays for the
    whole run: frozen, the full collections stop walking through it."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("KEYTURN_CONFIG", raising=False)
    monkeypatch.delenv("KEYTURN_STATE_DIR", raising=False)
    return home


@pytest.fixture(autouse=True)
def memory_keyring() -> MemoryKeyring:
    """In-process code sees an empty in-memory keychain unless a test stores something."""
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def forget_revealed_keys():
    """redact() remembers every key it has seen; one test's keys must not scrub another's text."""
    from tui.engine import credentials

    yield
    credentials._known_raw.clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """A FakeClock that also stamps probe latencies, for dashboard tests (byte-identical
    snapshots): probes measure latency with perf_counter, which the fake clock replaces."""
    from tests.support_app import stamp_latency
    from tui.engine.scheduler import FakeClock

    fake = FakeClock()
    stamp_latency(monkeypatch, fake)
    return fake


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Lines tests recorded as `keyturn_figures` (record_property), shown after the run even
    when the tests ran in xdist workers: e.g. app requests lost with and without the bound."""
    lines = [
        str(value)
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", "call") == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "keyturn_figures"
    ]
    if lines:
        terminalreporter.section("keyturn figures")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: two workers a core (4 on 2 cores).

    In one process a third of the suite's time is spent waiting (probes on the real
    clock, a server's answer, a child process); more workers than cores fill those
    waits. Measured on 2 cores (797 tests, dashboards at 5 frames a second): 3 workers
    76-81 s, 4 workers 70-77 s; 4 workers have passed every run beside two or three busy
    loops.
    The one failure seen earlier with 4 workers under load was a one-look `probe` test
    whose 0.15 s probe timeout ran out; such tests now use ONE_LOOK (tests/support_cli.py).
    PYTEST_XDIST_AUTO_NUM_WORKERS still decides when it is set (xdist's own rule).
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's hook reads it
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 2 * cores
