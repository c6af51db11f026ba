"""Run `keyturn` commands against the loopback server, and prove they leak no key.

`Keyturn.main` runs a command through `tui.cli.main` in the test's process (most tests:
the command's behaviour); `Keyturn.run` starts the real `keyturn` process (tests of the
process itself: signals, crash output, the entry point). Both search stdout, stderr and
every file under the test's home (config, state and cache dirs included) for the canary
keys and any 12+ character piece of them, so each CLI test is also a canary test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import keyring
import pytest

from tests.provider_server import OPENAI, ProviderServer
from tests.support_canary import assert_no_canary
from tui.cli import main

KEYTURN = shutil.which("keyturn") or str(Path(sys.executable).with_name("keyturn"))


@dataclass
class Result:
    code: int
    out: str
    err: str
    elapsed: float

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@contextlib.contextmanager
def sigint_as_in_a_terminal() -> Iterator[None]:
    """Start children with SIGINT at its default, as a command typed at a terminal has it.

    A child inherits an *ignored* SIGINT: pytest started as a background job of a script,
    under nohup or by some CI runners has SIGINT ignored, and so would every `keyturn` it
    starts; such a process rightly ignores Ctrl-C (asyncio.run then installs no handler),
    and a test that interrupts it waits for nothing. A handled SIGINT is reset to the
    default on exec, so handling it in this process while the child starts is enough.
    """
    if (signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
            or threading.current_thread() is not threading.main_thread()):
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def ignores_sigint(pid: int) -> bool | None:
    """Whether process `pid` ignores SIGINT (Linux /proc); None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("SigIgn:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    except OSError:
        return None
    return None


#: The timing of a config that is only probed once (`keyturn probe`): the product's own
#: defaults. Every answer must arrive for the exit code to mean what the test says, and a
#: one-look test has no ticks to keep short; the 0.15 s default below is for the tests that
#: tick (watch, revoke), where a late answer only costs a tick.
ONE_LOOK = {"interval": 2.0, "timeout": 1.5}


@dataclass
class Keyturn:
    """A temp HOME with a config pointing at the loopback server, and the keys in env vars."""

    home: Path
    keys: dict[str, str] = field(default_factory=dict)  # env var -> raw key
    #: The test's capsys, for `main` (in-process runs read their output from it).
    capsys: pytest.CaptureFixture[str] | None = None

    @property
    def config(self) -> Path:
        return self.home / "keyturn.toml"

    @property
    def state_dir(self) -> Path:
        return Path(os.environ.get("XDG_STATE_HOME", self.home / ".local/state")) / "keyturn"

    def write_config(
        self,
        server: ProviderServer,
        name: str = "svc",
        *,
        old: str | None = None,
        new: str | None = None,
        admin: str | None = None,
        deployment: bool = True,
        interval: float = 0.2,
        timeout: float = 0.15,
        streak: int = 2,
        samples: int = 1,
        max_old_share: float = 1.0,
        **extra: object,
    ) -> Path:
        """Write a rotation whose keys are env: references to the given raw keys.

        One deployment answer a tick and the bound off unless told otherwise: the CLI tests
        are about the commands; the bound has its own tests (test_rollout.py)."""
        lines = ["[defaults]", f"interval = {interval}", f"timeout = {timeout}",
                 f"streak = {streak}", f"samples = {samples}", f"max_old_share = {max_old_share}",
                 "", f"[rotations.{name}]",
                 f"provider = {toml_value(server.flavour)}",
                 f"base_url = {toml_value(server.base_url)}"]
        for slot, raw in (("old", old), ("new", new), ("admin", admin)):
            if raw is not None:
                var = f"KT_TEST_{slot.upper()}"
                self.keys[var] = raw
                lines.append(f"{slot} = {toml_value('env:' + var)}")
        if deployment:
            lines.append(f"deployment = {toml_value(server.deployment_url)}")
        if server.flavour == OPENAI and admin is not None:
            lines.append(f"project_id = {toml_value(server.project_id)}")
        for key, value in extra.items():
            lines.append(f"{key} = {toml_value(value)}")
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.config

    def env(self) -> dict[str, str]:
        env = dict(os.environ)  # HOME and XDG_* already point into the test's home
        env.update(self.keys)
        # A headless machine: no keychain, as in a deploy pipeline.
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
        env["NO_COLOR"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        env["KEYTURN_NO_NOTIFY"] = "1"  # a desktop running the suite gets no popups
        return env

    def run(self, *args: str, timeout: float = 60.0, config: bool = True,
            stdin: int | None = subprocess.DEVNULL, env: dict[str, str] | None = None) -> Result:
        argv = [KEYTURN] + (["--config", str(self.config)] if config else []) + list(args)
        started = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=stdin, env=env or self.env(), cwd=self.home, check=False)
        result = Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
        self.check_no_canary(result)
        return result

    def main(self, *args: str, stdin: str = "") -> Result:
        """`keyturn --config CONFIG ARGS` in this process (`in_process`), searched like `run`."""
        assert self.capsys is not None, "Keyturn(home, capsys=capsys) runs main in-process"
        return in_process(self, self.capsys, *args, stdin=stdin)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """A running `keyturn ARGS`, interruptible with SIGINT as at a terminal."""
        argv = [KEYTURN, "--config", str(self.config), *args]
        with sigint_as_in_a_terminal():
            return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True, env=self.env(),
                                    cwd=self.home)

    def check_no_canary(self, result: Result) -> None:
        """Search the output and every file keyturn wrote (the test's own config aside)."""
        state = [p for p in self.state_dir.rglob("*") if p.is_file()] if self.state_dir.exists() else []
        assert_no_canary(result.out, result.err, paths=[*self.written(), *state])

    def written(self) -> list[Path]:
        """Every file under the home except the config the test wrote itself."""
        return sorted(p for p in self.home.rglob("*") if p.is_file() and p != self.config)


def in_process(kt: Keyturn, capsys: pytest.CaptureFixture[str], *args: str,
               stdin: str = "") -> Result:
    """`keyturn ARGS` through tui.cli.main in this process, as `Keyturn.run` starts it: the
    keys in env vars, no keychain (a headless machine), `stdin` as a pipe that ends (empty:
    /dev/null), the home as working directory; searched for the canaries the same way.

    Same code, no interpreter start-up (~0.5 s of CPU a run): for tests of what a command
    does. Tests of the process itself (signals, a crash hook, the entry point) use `run`."""
    import io

    from keyring.backends import fail

    previous = keyring.get_keyring()
    with pytest.MonkeyPatch.context() as env:
        for var, raw in kt.keys.items():
            env.setenv(var, raw)
        env.setenv("NO_COLOR", "1")
        env.setenv("KEYTURN_NO_NOTIFY", "1")
        env.setattr(sys, "stdin", io.StringIO(stdin))
        env.chdir(kt.home)
        keyring.set_keyring(fail.Keyring())
        try:
            return _main(kt, capsys, *args)
        finally:
            keyring.set_keyring(previous)


def _main(kt: Keyturn, capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    started = time.monotonic()
    code = main(["--config", str(kt.config), *args])
    out, err = capsys.readouterr()
    result = Result(code, out, err, time.monotonic() - started)
    kt.check_no_canary(result)
    return result
