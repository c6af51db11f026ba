"""What every command shares: exit codes, output that never carries a key, the rotation
and audit log of a run, and the terminal's side of a rotation run (lines and questions)."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from tui.engine import config_file
from tui.engine.audit import AuditLog, AuditWriteError
from tui.engine.config import Config, Rotation
from tui.engine.credentials import redact
from tui.engine.gate import Role, serving
from tui.engine.lock import RotationBusy, RotationLock
from tui.engine.rotation import GateChanged, Notice, Phase, PhaseChanged, Probed, RotationEngine
from tui.engine.run import Ending, Outcome, RotationRun
from tui.engine.scheduler import Clock
from tui.engine.session import Keys, open_client, provider_for
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


def emit(kind: str, **fields: Any) -> None:
    """One JSON object on one line (`--json`): its type, the UTC time, its fields."""
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    out(json.dumps({"type": kind, "time": stamp, **fields}))


def say_json(line: str) -> None:
    """A line of a run as a JSON `message` event."""
    emit("message", text=line)


def on_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def attention(title: str, body: str) -> None:
    """A wait of minutes ended: the bell (only on a terminal, never into a pipe) and a
    desktop notification where one is available."""
    if not on_terminal():
        return
    from tui.notify import desktop

    try:
        sys.stdout.write("\a")
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    desktop(title, body)


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
        audit.ensure_writable()  # never through a symlink: a dangling one gets no target
    except AuditWriteError as exc:
        raise Fail(f"{cfg.path}: state_dir: cannot write the audit log ({exc.reason}); "
                   "set state_dir or KEYTURN_STATE_DIR", EXIT_USAGE) from None
    return audit


def probe_line(engine: RotationEngine, role: Role, result: Any) -> str:
    track = engine.tracks[role]
    status = str(result.status) if result.status is not None else "-"
    extra = ""
    if role is Role.DEPLOYMENT:
        extra = f"  serving {serving(result, *engine.fingerprints)}"
        evidence = engine.evidence
        sampled = getattr(result, "samples", None)
        if evidence is not None and sampled is not None:
            extra += (f"  samples {len(sampled)}  NEW since OLD {evidence.n}/{evidence.needed}"
                      f"  {evidence.bound_text()}")
    detail = f"  {result.detail}" if result.verdict.value != "live" else ""
    return (
        f"{clock_text()}  {role.value:<10}  {result.verdict.value:<11}  {status:>3}  "
        f"{result.latency_ms:6.0f} ms  streak {min(track.streak, track.need)}/{track.need}{extra}{detail}"
    )


def probe_event(engine: RotationEngine, role: Role, result: Any) -> dict[str, Any]:
    """A probe as a JSON event's fields (`--json`)."""
    track = engine.tracks[role]
    fields: dict[str, Any] = {
        "role": role.value, "verdict": result.verdict.value, "status": result.status,
        "latency_ms": round(result.latency_ms, 1), "streak": min(track.streak, track.need),
        "need": track.need, "request_id": result.request_id, "detail": result.detail,
    }
    if role is Role.DEPLOYMENT:
        fields["serving"] = serving(result, *engine.fingerprints)
        fields["fingerprint"] = result.served_fingerprint
    return fields


#: Phases that end a wait a person may be away from.
ENDINGS = {Phase.DONE: "rotation done", Phase.FAILED: "ALARM", Phase.ROLLED_BACK: "rolled back"}


def print_events(engine: RotationEngine, *, as_json: bool = False) -> None:
    """One line per probe, phase change and notice of the engine (`as_json`: one JSON
    object per line); the bell when Revoke unlocks and when the rotation ends."""
    gate_was_open = engine.gate.open

    said: list[str] = []

    def show(event: object) -> None:
        nonlocal gate_was_open
        if isinstance(event, Probed):
            if as_json:
                emit("probe", **probe_event(engine, event.role, event.result))
            else:
                out(probe_line(engine, event.role, event.result))
        elif isinstance(event, UsageUpdated):
            from tui.cli.usage_output import usage_json, usage_line

            line = usage_line(event.usage)
            if engine.usage_lock:  # the gate's reason, as soon as the count gives it
                line += (f" · {'set aside' if engine.usage_ignored else 'Revoke locked'}: "
                         + "; ".join(engine.usage_lock))
            if said[-1:] != [line]:  # once a minute at most, and only when it changed
                said[:] = [line]
                if as_json:
                    emit("usage", **usage_json(event.usage, engine.usage_lock,
                                               engine.usage_ignored))
                else:
                    say(line)
        elif isinstance(event, PhaseChanged):
            if as_json:
                emit("phase", phase=event.phase.value, reason=event.reason)
            else:
                say(f"phase: {event.phase.value}  ({event.reason})")
            if event.phase in ENDINGS and not as_json:
                attention(f"keyturn: {engine.rotation.name}: {ENDINGS[event.phase]}",
                          engine.alarm or event.reason)
        elif isinstance(event, GateChanged):
            opened = event.gate.open and not gate_was_open
            gate_was_open = event.gate.open
            if as_json:
                emit("gate", open=event.gate.open, reasons=list(event.gate.reasons))
            if opened and not as_json:
                attention(f"keyturn: {engine.rotation.name}: Revoke unlocked",
                          "the new key and the deployment answered live for a full streak")
        elif isinstance(event, Notice) and event.text not in ("probing paused", "probing resumed"):
            if as_json:
                emit("notice", level=event.level, text=event.text)
            else:
                say(event.text)

    engine.listeners.append(show)


def prompt_console():
    """Where questions go: stderr, so stdout stays the command's output (`--json`)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def confirm(question: str) -> bool:
    """A y/N question (rich's Confirm: it asks again on an answer that is neither);
    EOFError when stdin ends."""
    from rich.prompt import Confirm
    from rich.text import Text

    # A Text, not markup: "[y/N]" and a key's mask are shown as they are.
    return Confirm.ask(Text(f"{question} [y/N]"), console=prompt_console(), default=False,
                       show_choices=False, show_default=False)


async def ask(question: str) -> bool:
    """A y/N question on the terminal, in a thread off the event loop (probing goes on
    meanwhile)."""
    return await asyncio.to_thread(confirm, question)


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
        return await ask(f"Revoke OLD key {old.masked} ({old.fingerprint})?")

    async def console_done(self, engine: RotationEngine, steps: str) -> bool:
        if self.yes:
            return True
        return self.interactive and await ask("Revoked it in the console?")

    async def reactivate(self, engine: RotationEngine, alarm: str) -> bool:
        if self.rollback:
            return True
        if not (self.ask_reactivate and self.interactive):
            return False
        old = engine.keys.old
        return await ask(f"Reactivate OLD key {old.masked} ({old.fingerprint})?")


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


def exit_with(outcome: Outcome, said: frozenset[Ending] = frozenset({Ending.DECLINED}),
              as_json: bool = False) -> int:
    """Print how the run ended and return its exit code. A failure goes to stderr,
    except the endings in `said`, which are an answer rather than an error; with
    `as_json` an `end` event comes first on stdout, whatever the ending."""
    code = EXIT_FOR[outcome.ending]
    if as_json:
        emit("end", ending=outcome.ending.value, exit_code=code, message=outcome.message)
        if code == EXIT_OK or outcome.ending in said:
            return code
        raise Fail(outcome.message, code)
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
    as_json: bool = False,
) -> int:
    """Run `body(run)` on one engine with one shared client, printing its events (as JSON
    lines with `as_json`); the engine always stops. The exit code follows the run's
    ending."""

    async def main() -> Outcome:
        chosen = provider if provider is not None else provider_for(rotation)
        async with open_client(chosen) as client:
            extra = {"clock": clock} if clock is not None else {}
            engine = RotationEngine(rotation, chosen, keys, client, audit=audit, **extra)
            print_events(engine, as_json=as_json)
            lock = RotationLock(audit.dir, rotation.name) if audit is not None else None
            run = RotationRun(engine, decider, say_json if as_json else say,
                              promote_slots=promote_slots, lock=lock)
            try:
                return await body(run)
            except RotationBusy as exc:
                raise Fail(str(exc)) from None
            finally:
                run.close()
                await engine.stop()

    return exit_with(asyncio.run(main()), said, as_json)


NO_LIMIT = math.inf
