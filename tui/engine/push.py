"""Write a key to every destination of a rotation: the NEW key, or OLD back as the undo.

One function, `push`, for the dashboard (`w`, `u`) and `keyturn push`. Destinations are
written one after another in the config's order; each write is an audit event
(destination, fingerprint, result, the platform's request id) and a Notice, and a
failure in one leaves the others' results standing. A Worker in the middle of a gradual
deployment is not written to by surprise: keyturn says what it found and asks. Writing
OLD back is refused once the old key's revoke was requested (it would put a dead key
where the app reads it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from providers import cloudflare
from tui.engine.child_command import run_with_input
from tui.engine.credentials import CredentialError, Secret
from tui.engine.destinations import KEY_FIELD, Command, Destination, DotenvFile, WorkerSecret
from tui.engine.dotenv_file import DotenvError, write_dotenv
from tui.engine.history import resume_point
from tui.engine.worker_watch import WRITE_TIMEOUT, now_utc, rollout_words

if TYPE_CHECKING:
    from tui.engine.rotation import RotationEngine

#: Asked before writing to a Worker in a gradual deployment: (destination, what was found).
Ask = Callable[[Destination, str], Awaitable[bool]]

WRITTEN, FAILED, SKIPPED = "written", "failed", "skipped"


class PushRefused(Exception):
    """Nothing may be written (no NEW key, or OLD after its revoke); the message says why."""


@dataclass(frozen=True)
class WriteResult:
    """One destination's write: written, failed or skipped, in the platform's own words."""

    destination: Destination
    outcome: str
    message: str
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == WRITTEN

    @property
    def line(self) -> str:
        rid = f" (request id {self.request_id})" if self.request_id else ""
        return f"{self.destination.label}: {self.outcome}: {self.message}{rid}"


def key_to_write(engine: RotationEngine, slot: str) -> Secret:
    """The key `slot` names, or PushRefused saying why it may not be written now."""
    name = engine.rotation.name
    if not engine.rotation.destinations:
        raise PushRefused(f"{name} has no destinations: add [[rotations.{name}.destinations]] "
                          "to the config")
    if slot == "new":
        if engine.keys.new is None:
            raise PushRefused(f"{name} has no NEW key yet: enter it first")
        return engine.keys.new
    old = engine.keys.old
    point = (resume_point(engine.audit.events(name), old.fingerprint)
             if engine.audit is not None else None)
    if old.fingerprint in engine.revoked or point is not None:
        since = f" (revoke requested {point.since})" if point is not None and point.since else ""
        raise PushRefused(
            f"refused: the OLD key {old.fingerprint} was revoked{since}; writing it back would "
            "put a dead key where the app reads it. Writing OLD back is the undo before "
            "Revoke; after it, reactivate the old key first (Anthropic), or write NEW")
    return old


async def push(engine: RotationEngine, slot: str, ask: Ask) -> list[WriteResult]:
    """Write the `slot` key (new | old) to every destination; one result each, in order."""
    secret = key_to_write(engine, slot)
    results = []
    for destination in engine.rotation.destinations:
        result = await write_one(engine, destination, secret, slot, ask)
        engine.record("destination_write", destination=destination.label,
                      kind=destination.kind, slot=slot, fingerprint=secret.fingerprint,
                      result=result.outcome, detail=result.message,
                      request_id=result.request_id,
                      **(_platform_time(engine, destination) if result.ok else {}))
        engine.notice(f"{slot.upper()} key → {result.line}",
                      "info" if result.ok else "error" if result.outcome == FAILED else "warning")
        results.append(result)
    return results


def _platform_time(engine: RotationEngine, destination: Destination) -> dict[str, str]:
    """A Worker write's time by Cloudflare's clock (what the gate compares versions with)."""
    if not isinstance(destination, WorkerSecret):
        return {}
    written = engine.platform.watch_for(destination).written
    return {"platform_time": written.at.isoformat()} if written is not None else {}


async def write_one(engine: RotationEngine, destination: Destination, secret: Secret,
                    slot: str, ask: Ask) -> WriteResult:
    if isinstance(destination, WorkerSecret):
        return await _worker(engine, destination, secret, slot, ask)
    if isinstance(destination, DotenvFile):
        try:
            said = await asyncio.to_thread(write_dotenv, destination.path,
                                           destination.variable, secret.reveal())
        except DotenvError as exc:
            return WriteResult(destination, FAILED, str(exc))
        return WriteResult(destination, WRITTEN, said)
    return await _command(engine, destination, secret)


async def _worker(engine: RotationEngine, destination: WorkerSecret, secret: Secret,
                  slot: str, ask: Ask) -> WriteResult:
    platform = engine.platform
    watch = platform.watch_for(destination)
    try:
        token = (await platform.token_for(watch)).reveal()
    except CredentialError as exc:
        return WriteResult(destination, FAILED, str(exc))
    answer = await platform.read(watch)
    deployment = watch.deployment
    if not answer.ok or deployment is None:
        # Not written blind: what a secret write does depends on the rollout in progress.
        return WriteResult(destination, FAILED, f"not written: {watch.problem or answer.message}",
                           answer.request_id)
    if deployment.gradual:
        rollout = rollout_words(deployment, watch.today)
        found = (f"{destination.label} is in a gradual deployment: {rollout}. Writing the "
                 "secret deploys a new version to 100 % at once (or Cloudflare refuses it "
                 "until the deployment is finished).")
        if not await ask(destination, found):
            return WriteResult(destination, SKIPPED,
                               f"not written: a gradual deployment is in progress ({rollout})")
    answer = await cloudflare.put_secret(engine.http(), watch.base, destination.secret,
                                         secret.reveal(), token, WRITE_TIMEOUT)
    if not answer.ok:
        unsure = (" (no answer: Cloudflare may or may not have set it)"
                  if answer.status is None else "")
        return WriteResult(destination, FAILED, answer.message + unsure, answer.request_id)
    platform.wrote(watch, slot, secret.fingerprint, answer.date or now_utc())
    await platform.refresh(watch)
    now = (f"; now {rollout_words(watch.deployment, watch.today)}"
           if watch.deployment is not None else "")
    return WriteResult(destination, WRITTEN, f"secret {destination.secret} set{now}",
                       answer.request_id)


async def _command(engine: RotationEngine, destination: Command, secret: Secret) -> WriteResult:
    keys = [k.reveal() for k in (engine.keys.old, engine.keys.new, engine.keys.admin) if k]
    data = destination.stdin.replace(KEY_FIELD, secret.reveal()).encode()
    ran = await run_with_input(destination.argv, data, timeout=destination.timeout,
                               secrets=keys, cwd=destination.cwd)
    said = f": {ran.output}" if ran.output else ""
    if ran.failed_to_start:
        return WriteResult(destination, FAILED, ran.failed_to_start)
    if ran.timed_out:
        return WriteResult(destination, FAILED,
                           f"no answer within {destination.timeout:g} s: killed (the key may "
                           f"or may not have been set){said}")
    if ran.printed > 16 * 1024:
        said = f" (printed {ran.printed:,} bytes; the end){said}"
    if not ran.ok:
        return WriteResult(destination, FAILED, f"exit {ran.code}{said}")
    return WriteResult(destination, WRITTEN, f"exit 0{said}")
