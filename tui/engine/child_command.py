"""A command that takes the key on standard input: `wrangler secret put`, `gh secret set`…

The key reaches the child only through its standard input: never an argument (other
users see argv in `ps`), never an environment variable (children inherit those, and
/proc shows them). keyturn's own environment goes to the child without any variable
that holds one of the rotation's keys (an `env:` reference puts a key there). The child
runs in its own process group, so a timeout kills it and anything it started; what it
prints is read as it comes (a flood never blocks it), kept capped, cleaned and scrubbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from providers.text import clean, scrub, shares_piece

#: Bytes of output kept from the start and from the end of what a command prints.
KEEP = 8 * 1024
#: Longest summary of the output shown (one line on a card, in the audit log).
SHOWN = 240


@dataclass(frozen=True)
class Ran:
    """How a command ended: its exit code (None: killed at its timeout) and output."""

    code: int | None
    output: str
    #: Bytes it printed in all (the output shown is cut when this is large).
    printed: int = 0
    timed_out: bool = False
    #: Why it could not be started (not found, not executable), else "".
    failed_to_start: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0


def child_environment(env: Mapping[str, str], secrets: Iterable[str]) -> dict[str, str]:
    """`env` without any variable whose value holds a secret, or a 12-character piece of one."""
    raws = [s for s in secrets if s]
    return {name: value for name, value in env.items()
            if not any(raw in value or shares_piece(value, raw) for raw in raws)}


class _Output:
    """What the child prints, read as it comes: the first and last KEEP bytes, and a count."""

    def __init__(self) -> None:
        self.head, self.tail, self.total = b"", b"", 0

    async def read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.total += len(chunk)
            if len(self.head) < KEEP:
                room = KEEP - len(self.head)
                self.head, chunk = self.head + chunk[:room], chunk[room:]
            self.tail = (self.tail + chunk)[-KEEP:]

    def summary(self, secrets: list[str]) -> str:
        """The end of what it printed (where tools say what happened), as one clean line."""
        raw = (self.tail if self.total > KEEP else self.head)[-8 * SHOWN:]
        text = scrub(clean(raw.decode("utf-8", "replace"), len(raw) + 1), secrets)
        return "…" + text[-(SHOWN - 1):].lstrip() if len(text) > SHOWN else text


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def run_with_input(
    argv: tuple[str, ...], data: bytes, *, timeout: float, secrets: Iterable[str],
    cwd: str | None = None, env: Mapping[str, str] | None = None,
) -> Ran:
    """Run `argv` with `data` on its standard input; kill it (and its group) at `timeout`.

    `secrets` are scrubbed from what it prints and kept out of its environment.
    """
    secrets = [s for s in secrets if s]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, cwd=os.path.expanduser(cwd) if cwd else None,
            env=child_environment(os.environ if env is None else env, secrets),
            start_new_session=True,
        )
    except FileNotFoundError:
        where = f" in {cwd}" if cwd and not os.path.isdir(os.path.expanduser(cwd)) else ""
        return Ran(None, "", failed_to_start=(f"no such directory{where}" if where else
                                              f"command not found: {clean(argv[0], 80)}"))
    except OSError as exc:
        return Ran(None, "", failed_to_start=f"cannot start {clean(argv[0], 80)}: "
                                             f"{exc.strerror or type(exc).__name__}")
    assert proc.stdin is not None and proc.stdout is not None
    output = _Output()
    reading = asyncio.ensure_future(output.read(proc.stdout))
    timed_out = False
    try:
        async with asyncio.timeout(timeout):
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(data)
                await proc.stdin.drain()
            proc.stdin.close()
            await proc.wait()
    except TimeoutError:
        timed_out = True
    finally:
        if proc.returncode is None:
            _kill(proc)  # a timeout, or keyturn itself cancelled: the child does not outlive it
            await proc.wait()
    try:
        # Killed or ended, its output ends with it (unless something it started left the
        # group and holds the pipe: then what was read so far is enough).
        async with asyncio.timeout(1.0):
            await reading
    except TimeoutError:
        pass
    return Ran(None if timed_out else proc.returncode, output.summary(secrets), output.total,
               timed_out)
