"""Dashboard figures: gate reaction on screen (Pilot), CPU in a real terminal, first frame.

- Gate reaction: the dashboard runs against the loopback server (real HTTP, LoopClock);
  from the moment the answer that completes the gate was received and classified
  (`ProbeResult.at`) to the first frame the app hands to its driver after the Revoke
  button became enabled (`App._display`, which a headless Pilot run also calls).
- CPU: `keyturn watch bench` in tmux against the loopback server, 3 targets at 1 s;
  CPU time from /proc/<pid>/stat (utime + stime) over 60 s, after a warm-up.
- First frame: `keyturn demo` in tmux, from the Enter that starts it to the first frame
  showing the cards, the gate bar and the key bar; the launcher (first_frame.py) notes
  the frame's time from App._display. Alternated with the smallest Textual app (the floor).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

from tests.benchmarks.support import (
    NEW_KEY,
    OLD_KEY,
    Figure,
    LoopbackServer,
    median,
)

# -- gate reaction -----------------------------------------------------------------------


async def _one_reaction(server: LoopbackServer, interval: float, streak: int) -> dict[str, float]:
    from textual.widgets import Button

    from providers.anthropic import AnthropicProvider
    from tests.benchmarks.engine import bench_keys, bench_rotation
    from tui.app import KeyturnApp, Session

    rotation = bench_rotation(server.url, interval=interval, timeout=interval * 0.9, streak=streak)
    session = Session(rotation, AnthropicProvider(base_url=server.url), bench_keys())
    app = KeyturnApp(session)
    marks: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        engine = app.engine
        original_on_result = engine._on_result

        def on_result(role: str, result) -> None:
            was_open = engine.can_revoke
            original_on_result(role, result)
            if engine.can_revoke and not was_open and "received" not in marks:
                marks["received"] = result.at  # monotonic time the answer was classified
                marks["on_result_done"] = time.monotonic()

        engine._on_result = on_result
        # The scheduler captured the bound method before the patch: point it at ours.
        engine.scheduler.on_result = on_result
        original_display = app._display
        button = app.screen.query_one("#revoke", Button)

        def display(screen, renderable) -> None:
            original_display(screen, renderable)
            if renderable is not None and "received" in marks and "frame" not in marks \
                    and not button.disabled:
                marks["frame"] = time.monotonic()

        app._display = display  # type: ignore[method-assign]
        deadline = time.monotonic() + 30
        while "frame" not in marks and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        await pilot.pause()
    if "frame" not in marks:
        raise RuntimeError("the gate did not open on screen within 30 s")
    return {
        "reaction_ms": (marks["frame"] - marks["received"]) * 1000,
        "engine_ms": (marks["on_result_done"] - marks["received"]) * 1000,
    }


def gate_reaction(server: LoopbackServer, runs: int = 7, interval: float = 0.1,
                  streak: int = 5) -> Figure:
    got = [asyncio.run(_one_reaction(server, interval, streak)) for _ in range(runs)]
    reaction = [g["reaction_ms"] for g in got]
    value = median(reaction)
    return Figure(
        "gate reaction: N-th live answer received → Revoke enabled on screen (Pilot)",
        round(value, 1), "< 50 ms (median)", value < 50, "ms",
        {"runs_ms": [round(x, 1) for x in reaction], "max_ms": round(max(reaction), 1),
         "engine_part_ms": round(median([g["engine_ms"] for g in got]), 2),
         "streak": streak, "interval_s": interval},
    )


# -- a real terminal ---------------------------------------------------------------------


class Tmux:
    """A private tmux server (own socket) running one command in a window of a set size."""

    def __init__(self, command: list[str], env: dict[str, str], size: tuple[int, int] = (120, 40)):
        self.socket = f"keyturn-bench-{os.getpid()}-{time.monotonic_ns()}"
        self.command = command
        self.env = env
        self.size = size

    def _tmux(self, *args: str, check: bool = True) -> str:
        # The tmux server (started by new-session) hands its own environment to the command,
        # so it is started with exactly `env`: nothing leaks in from the benchmark process.
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              check=check, env=self.env)
        return done.stdout

    def __enter__(self) -> Self:
        width, height = self.size
        self._tmux("new-session", "-d", "-x", str(width), "-y", str(height), "--", *self.command)
        return self

    def pid(self) -> int:
        return int(self._tmux("list-panes", "-F", "#{pane_pid}").split()[0])

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", check=False)

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", *keys, check=False)

    def __exit__(self, *exc: object) -> None:
        self._tmux("kill-server", check=False)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def bench_config(server: LoopbackServer, folder: Path, interval: float = 1.0) -> Path:
    from providers.keys import fingerprint

    path = folder / "keyturn.toml"
    path.write_text(
        "[defaults]\n"
        f"interval = {interval}\ntimeout = {interval * 0.8}\nstreak = 5\n\n"
        "[rotations.bench]\n"
        'provider = "anthropic"\n'
        'old = "env:KEYTURN_BENCH_OLD"\n'
        'new = "env:KEYTURN_BENCH_NEW"\n'
        f'base_url = "{server.url}"\n'
        f'deployment = "{server.url}/health/probe?fp={fingerprint(NEW_KEY)}"\n'
    )
    return path


def terminal_env(folder: Path) -> dict[str, str]:
    from tests.benchmarks.startup import bench_env

    env = bench_env()
    env.update({
        "TERM": "xterm-256color", "COLORTERM": "truecolor",
        "HOME": str(folder), "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_STATE_HOME": str(folder / "state"), "XDG_DATA_HOME": str(folder / "data"),
        "KEYTURN_BENCH_OLD": OLD_KEY, "KEYTURN_BENCH_NEW": NEW_KEY,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    })
    return env


def wait_for(predicate, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def dashboard_cpu(server: LoopbackServer, duration: float = 60.0, warmup: float = 5.0,
                  launcher: list[str] | None = None) -> Figure:
    """CPU share of one core used by `keyturn watch` (3 targets at 1 s) in tmux.

    `launcher` replaces the `keyturn` script (profiling and what-if runs)."""
    name = "dashboard CPU: 3 targets at 1 s in tmux"
    if shutil.which("tmux") is None:
        return Figure(name, None, "< 3 % of one core", None, "%", note="tmux not installed")
    with tempfile.TemporaryDirectory(prefix="keyturn-bench-") as tmp:
        folder = Path(tmp)
        config = bench_config(server, folder)
        script = launcher or [str(Path(sys.executable).parent / "keyturn")]
        before = server.stats()["requests"]
        with Tmux([*script, "--config", str(config), "watch", "bench"], terminal_env(folder)) as tmux:
            pid = tmux.pid()
            if not wait_for(lambda: "NEW" in tmux.screen(), 20):
                return Figure(name, None, "< 3 % of one core", False, "%",
                              note="dashboard did not draw: " + tmux.screen()[-400:])
            time.sleep(warmup)
            cpu0, wall0 = cpu_seconds(pid), time.monotonic()
            time.sleep(duration)
            cpu1, wall1 = cpu_seconds(pid), time.monotonic()
            screen = tmux.screen()
            tmux.keys("q")
        requests = server.stats()["requests"] - before
    share = 100 * (cpu1 - cpu0) / (wall1 - wall0)
    return Figure(
        name, round(share, 2), "< 3 % of one core", share < 3 and "UNLOCKED" in screen, "%",
        {"cpu_s": round(cpu1 - cpu0, 3), "wall_s": round(wall1 - wall0, 1),
         "probes_answered": requests, "gate_open_on_screen": "UNLOCKED" in screen},
    )


# -- first frame -------------------------------------------------------------------------

#: What a full frame shows: the gate bar, the three cards and the key bar (the keys).
FULL_FRAME = ("REVOKE", "OLD key", "NEW key", "DEPLOYMENT", "Quit")


def _first_frame_once(env: dict[str, str], out: Path, timeout: float = 20.0,
                      launcher_name: str = "first_frame.py",
                      marks: tuple[str, ...] = FULL_FRAME) -> dict[str, float]:
    """Enter pressed (the shell then execs keyturn demo) → first full frame, two ways:
    the frame's own time from the launcher's observer, and the screen as tmux shows it."""
    launcher = str(Path(__file__).with_name(launcher_name))
    out.write_text("")
    command = f"read _ && exec {sys.executable} {launcher} {out}"
    with Tmux(["sh", "-c", command], env) as tmux:
        time.sleep(0.3)  # the shell is waiting for its line
        t0 = time.monotonic()
        tmux.keys("Enter")
        seen: float | None = None
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if seen is None and all(mark in tmux.screen() for mark in marks):
                seen = time.monotonic()
            if seen is not None and out.read_text().strip():
                break
            time.sleep(0.01)
        written = out.read_text().split()
    if not written or seen is None:
        raise RuntimeError(f"no full frame within {timeout:g}s")
    return {"frame_ms": (float(written[0]) - t0) * 1000, "tmux_ms": (seen - t0) * 1000}


def demo_first_frame(runs: int = 7) -> Figure:
    """`keyturn demo` in tmux (120×40): Enter → the cards, gate bar and key bar on screen."""
    name = "`keyturn demo` to first full frame (tmux)"
    if shutil.which("tmux") is None:
        return Figure(name, None, "< 600 ms", None, "ms", note="tmux not installed")
    with tempfile.TemporaryDirectory(prefix="keyturn-bench-") as tmp:
        env = terminal_env(Path(tmp))
        out = Path(tmp) / "frame.txt"
        floor_marks = ("OLD key", "Quit")
        _first_frame_once(env, out)  # warm the page cache and the bytecode cache
        _first_frame_once(env, out, launcher_name="floor_app.py", marks=floor_marks)
        got, floor = [], []
        for _ in range(runs):  # side by side: the smallest Textual app, same terminal
            got.append(_first_frame_once(env, out))
            floor.append(_first_frame_once(env, out, launcher_name="floor_app.py",
                                            marks=floor_marks)["frame_ms"])
    frame = [g["frame_ms"] for g in got]
    value = median(frame)
    return Figure(name, round(value, 1), "< 600 ms", value < 600, "ms",
                  {"runs_ms": [round(x, 1) for x in frame],
                   "seen_in_tmux_ms": round(median([g["tmux_ms"] for g in got]), 1),
                   "minimal_textual_app_ms": round(median(floor), 1),
                   "ratio_to_minimal_textual_app": round(value / median(floor), 2),
                   "interpreter_start_ms": round(interpreter_start(env), 1)})


def interpreter_start(env: dict[str, str], runs: int = 5) -> float:
    """Median wall time of `python -c pass` with the same environment (the floor)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        times.append((time.perf_counter() - t0) * 1000)
    return median(times)
