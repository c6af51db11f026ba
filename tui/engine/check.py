"""One probe of every target of a rotation, judged: what `keyturn probe` reports.

No schedule and no streak beyond one answer each: a snapshot for a pipeline step.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

from providers.base import Provider
from providers.deployment import DeploymentTarget
from providers.results import ProbeResult, Verdict
from tui.engine.bound import Evidence, OldShare
from tui.engine.config import Rotation
from tui.engine.gate import GateState, Role, Track, evaluate, qualifies, summarize
from tui.engine.scheduler import LoopClock
from tui.engine.session import Keys, open_client
from tui.engine.usage import Usage, UsageWatch


class Health(StrEnum):
    LIVE = "live"  # the active key (new, else old) and the deployment answered live
    FAILING = "failing"  # one of them is rejected or unexpected
    INDETERMINATE = "indeterminate"  # only throttled, unavailable or unreachable answers


@dataclass(frozen=True)
class Check:
    rotation: Rotation
    results: dict[Role, ProbeResult]
    old_fingerprint: str
    new_fingerprint: str | None
    gate: GateState
    #: The deployment's samples as evidence on the OLD share (None: no deployment).
    evidence: Evidence | None = None
    #: The provider's per-key count, read once (state `off` without an admin key).
    usage: Usage | None = None

    @property
    def active(self) -> Role:
        return Role.NEW if self.new_fingerprint is not None else Role.OLD

    def fingerprint_of(self, role: Role) -> str | None:
        """The key a target's answer is about (the deployment: the key it says it serves)."""
        if role is Role.DEPLOYMENT:
            return self.results[role].served_fingerprint
        return self.old_fingerprint if role is Role.OLD else self.new_fingerprint

    @property
    def health(self) -> Health:
        judged = [self.results[self.active]]
        if Role.DEPLOYMENT in self.results:
            judged.append(self.results[Role.DEPLOYMENT])
        if any(r.verdict in (Verdict.REJECTED, Verdict.UNEXPECTED) for r in judged):
            return Health.FAILING
        if all(r.verdict is Verdict.LIVE for r in judged):
            return Health.LIVE
        return Health.INDETERMINATE


async def check_once(rotation: Rotation, keys: Keys, provider: Provider) -> Check:
    """Probe the old key, the new key (if any) and the deployment (if any) once, together."""
    async with open_client(provider) as client:
        jobs = {Role.OLD: provider.probe(client, keys.old, rotation.timeout)}
        if keys.new is not None:
            jobs[Role.NEW] = provider.probe(client, keys.new, rotation.timeout)
        if rotation.deployment:
            # One tick's worth of samples, as the engine takes them.
            target = DeploymentTarget(rotation.deployment, provider)
            jobs[Role.DEPLOYMENT] = target.sample(client, rotation.samples, rotation.timeout)
        usage = UsageWatch(provider, keys, lambda: client, LoopClock(),
                           timeout=rotation.timeout * 4, deployment=False,
                           wall=getattr(provider, "report_clock", None))
        read = usage.poll_once() if usage.off is None else asyncio.sleep(0)
        *answers, _ = await asyncio.gather(*jobs.values(), read)
        results = dict(zip(jobs, answers, strict=True))
    old_fp = keys.old.fingerprint
    new_fp = keys.new.fingerprint if keys.new else None
    tracks = {role: Track(role, rotation.streak, rotation.indeterminate) for role in results}
    evidence = None
    if Role.DEPLOYMENT in results:
        samples = results[Role.DEPLOYMENT]
        share = OldShare(rotation.max_old_share, rotation.samples / rotation.interval)
        share.add([r.served_fingerprint for r in samples], old_fp, new_fp, 0.0)
        tracks[Role.DEPLOYMENT].evidence = share
        results[Role.DEPLOYMENT] = summarize(samples, old_fp, new_fp)
        evidence = share.figures(0.0)
    for role, result in results.items():
        tracks[role].record(result, qualifies(role, result, new_fp))
    gate = evaluate(tracks.get(Role.NEW), tracks.get(Role.DEPLOYMENT), old_fp, new_fp,
                    now=0.0 if evidence is not None else None)
    return Check(rotation, results, old_fp, new_fp, gate, evidence, usage.figures())
