"""What every command shares: exit codes, output that never carries a key, the rotation
and audit log of a run, and the terminal's side of a rotation run (lines and questions)."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tui.engine import config_file
from tui.engine.audit import AuditLog
from tui.engine.config import Config, Rotation
from tui.engine.credentials import redact
from tui.engine.gate import Role, serving
from tui.engine.lock import RotationBusy, RotationLock
from tui.engine.rotation import (
    Keys,
    Notice,
    PhaseChanged,
    Probed,
    RotationEngine,
    open_client,
    provider_for,
)
from tui.engine.run import Ending, Outcome, RotationRun
from tui.engine.scheduler import Clock
from tui.engine.usage import UsageUpdated

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INDETERMINATE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_PIPE = 141


class Fail(Exception):
    """A handled failure: a message for stderr and an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


# -- output -------------------------------------------------------------------------


def err(message: str) -> None:
    print(f"keyturn: {redact(message)}", file=sys.stderr)


def out(line: str) -> None:
    try:
        print(redact(line), flush=True)
    except BrokenPipeError:
        reader_left()


def reader_left() -> None:
    """`keyturn log | head`: the reader left. End as a shell tool killed by SIGPIPE would
    (exit 141), quietly; the audit log is already on disk (every line fsynced)."""
    os._exit(EXIT_PIPE)


def clock_text() -> str:
    return time.strftime("%H:%M:%S")


def say(line: str) -> None:
    """A line of a run, stamped with the time of day."""
    out(f"{clock_text()}  {line}")


# -- the rotation of a command ---------------------------------------------------------


def load_rotation(args: argparse.Namespace) -> tuple[Config, Rotation]:
    cfg = config_file.load(args.config)
    return cfg, cfg.rotation(args.rotation)


def audit_for(cfg: Config) -> AuditLog:
    """The audit log of a run that may act; refused (exit 2) when it cannot be written.

    Every step of a rotation is recorded: a run that could not record what it did (the
    state dir is a file, a read-only mount) stops before probing, not mid-revoke.
    """
    audit = AuditLog(cfg.state_dir)
    try:
        audit.dir.mkdir(parents=True, exist_ok=True)
        os.close(os.open(audit.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    except OSError as exc:
        raise Fail(f"{cfg.path}: state_dir: cannot write the audit log {audit.path} "
                   f"({type(exc).__name__}); set state_dir or KEYTURN_STATE_DIR", EXIT_USAGE) from None
    return audit


def probe_line(engine: RotationEngine, role: Role, result: Any) -> str:
    track = engine.tracks[role]
    status = str(result.status) if result.status is not None else "-"
    extra = ""
    if role is Role.DEPLOYMENT:
        extra = f"  serving {serving(result, *engine.fingerprints)}"
    detail = f"  {result.detail}" if result.verdict.value != "live" else ""
    return (
        f"{clock_text()}  {role.value:<10}  {result.verdict.value:<11}  {status:>3}  "
        f"{result.latency_ms:6.0f} ms  streak {min(track.streak, track.need)}/{track.need}{extra}{detail}"
    )


def print_events(engine: RotationEngine) -> None:
    """One line per probe, phase change and notice of the engine."""

    said: list[str] = []

    def show(event: object) -> None:
        if isinstance(event, Probed):
            out(probe_line(engine, event.role, event.result))
        elif isinstance(event, UsageUpdated):
            from tui.cli.usage_output import usage_line

            line = usage_line(event.usage)
            if said[-1:] != [line]:  # once a minute at most, and only when it changed
                said[:] = [line]
                say(line)
        elif isinstance(event, PhaseChanged):
            say(f"phase: {event.phase.value}  ({event.reason})")
        elif isinstance(event, Notice) and event.text not in ("probing paused", "probing resumed"):
            say(event.text)

    engine.listeners.append(show)


async def ask(question: str) -> bool:
    """A y/N question on the terminal, off the event loop (probing goes on meanwhile)."""
    answer = await asyncio.to_thread(input, question)
    return answer.strip().lower() in ("y", "yes")


class TerminalDecider:
    """The person at the terminal decides (or `--yes` decided for them)."""

    def __init__(self, *, yes: bool, interactive: bool, rollback: bool = False,
                 ask_reactivate: bool = False) -> None:
        self.yes = yes
        self.interactive = interactive
        #: Reactivate without asking: `revoke --rollback` on an alarm, `reactivate --yes`.
        self.rollback = rollback
        #: Ask whether to reactivate (`keyturn reactivate`); otherwise an alarm ends the run.
        self.ask_reactivate = ask_reactivate

    async def revoke(self, engine: RotationEngine) -> bool:
        if self.yes:
            return True
        if not self.interactive:
            raise Fail("refusing to revoke without confirmation: stdin is not a terminal "
                       "(pass --yes)", EXIT_USAGE)
        old = engine.keys.old
        return await ask(f"Revoke OLD key {old.masked} ({old.fingerprint})? [y/N] ")

    async def console_done(self, engine: RotationEngine, steps: str) -> bool:
        if self.yes:
            return True
        return self.interactive and await ask("Revoked it in the console? [y/N] ")

    async def reactivate(self, engine: RotationEngine, alarm: str) -> bool:
        if self.rollback:
            return True
        if not (self.ask_reactivate and self.interactive):
            return False
        old = engine.keys.old
        return await ask(f"Reactivate OLD key {old.masked} ({old.fingerprint})? [y/N] ")


#: How each ending of a run exits.
EXIT_FOR = {
    Ending.DONE: EXIT_OK,
    Ending.ALREADY_DONE: EXIT_OK,
    Ending.WATCHED: EXIT_OK,
    Ending.GATE_TIMEOUT: EXIT_FAIL,
    Ending.DECLINED: EXIT_FAIL,
    Ending.REVOKE_FAILED: EXIT_FAIL,
    Ending.NOT_CONFIRMED: EXIT_FAIL,
    Ending.ALARM: EXIT_FAIL,
    Ending.ROLLED_BACK: EXIT_FAIL,
    Ending.REACTIVATED: EXIT_OK,
    Ending.REFUSED: EXIT_FAIL,
}


def exit_with(outcome: Outcome, said: frozenset[Ending] = frozenset({Ending.DECLINED})) -> int:
    """Print how the run ended and return its exit code. A failure goes to stderr,
    except the endings in `said`, which are an answer rather than an error."""
    code = EXIT_FOR[outcome.ending]
    if code == EXIT_OK or outcome.ending in said:
        if outcome.message:
            say(outcome.message)
        return code
    raise Fail(outcome.message, code)


def run_rotation(
    rotation: Rotation,
    keys: Keys,
    audit: AuditLog | None,
    body: Callable[[RotationRun], Awaitable[Outcome]],
    *,
    decider: Any,
    clock: Clock | None = None,
    provider: Any = None,
    promote_slots: bool = True,
    said: frozenset[Ending] = frozenset({Ending.DECLINED}),
) -> int:
    """Run `body(run)` on one engine with one shared client, printing its events; the
    engine always stops. The exit code follows the run's ending."""

    async def main() -> Outcome:
        chosen = provider if provider is not None else provider_for(rotation)
        async with open_client(chosen) as client:
            extra = {"clock": clock} if clock is not None else {}
            engine = RotationEngine(rotation, chosen, keys, client, audit=audit, **extra)
            print_events(engine)
            lock = RotationLock(audit.dir, rotation.name) if audit is not None else None
            run = RotationRun(engine, decider, say, promote_slots=promote_slots, lock=lock)
            try:
                return await body(run)
            except RotationBusy as exc:
                raise Fail(str(exc)) from None
            finally:
                run.close()
                await engine.stop()

    return exit_with(asyncio.run(main()), said)


NO_LIMIT = math.inf
