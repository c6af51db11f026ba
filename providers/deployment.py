"""The deployment probe contract: GET <url> → {"ok", "status", "fingerprint"}.

The deployed app probes the provider with the key it holds and reports what it saw;
keyturn reads the verdict from `status` by the provider's rules and learns which key
the deployment serves from `fingerprint`. No key is ever sent to the deployment.

A deployment may answer from several instances or versions at once (a staged rollout):
`sample()` sends several requests together, each of which may land elsewhere.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from providers.base import Provider
from providers.body import looks_like_html, parse_json
from providers.lazy import httpx
from providers.results import Classified, ProbeResult, Verdict
from providers.transport import invalid_url, send_probe

FINGERPRINT = re.compile(r"^[0-9a-f]{12}$")
#: Samples in flight at once: a quarter of the tick (so it takes about 4 round trips), at
#: least 8. httpcore's pool looks at every connection for every request it places: 40 at
#: once over 40 connections cost about 5 ms of CPU a sample; 10 at a time, under 1 ms.
PARALLEL_MIN, ROUNDS = 8, 4


@dataclass
class DeploymentTarget:
    """A deployed app's health endpoint, judged by the rules of the rotation's provider."""

    url: str
    provider: Provider

    def classify(self, status: int, headers: httpx.Headers, body: bytes) -> Classified:
        payload = parse_json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("ok"), bool):
            if status >= 500:
                return Classified(Verdict.UNAVAILABLE, f"deployment answered HTTP {status}")
            if status == 429:
                # The deployment's own host is rate limiting the probe: no evidence either way.
                return Classified(Verdict.THROTTLED, "deployment answered HTTP 429")
            what = "an HTML page" if looks_like_html(body) else "no probe-contract JSON"
            return Classified(Verdict.UNEXPECTED, f"deployment HTTP {status} with {what}")
        served = payload.get("fingerprint")
        served = served.lower() if isinstance(served, str) and FINGERPRINT.match(served.lower()) else None
        seen = payload.get("status")
        seen_status = seen if isinstance(seen, int) and not isinstance(seen, bool) else None
        if payload["ok"]:
            if seen_status is not None and not 200 <= seen_status < 300:
                verdict = self.provider.verdict_for_status(seen_status)
                return Classified(verdict, f"ok but provider said {seen_status}", served)
            return Classified(Verdict.LIVE, "deployment healthy", served)
        if seen_status is None:
            error = payload.get("error")
            if isinstance(error, str) and error.strip():
                # The app's own call to the provider failed (it says why): no evidence.
                return Classified(Verdict.UNAVAILABLE, "the deployment could not reach the "
                                  f"provider: {error}", served)
            return Classified(Verdict.UNAVAILABLE, "ok: false without a status", served)
        verdict = self.provider.verdict_for_status(seen_status)
        if verdict is Verdict.LIVE:
            # ok: false while the provider answered 2xx: the app itself is broken.
            verdict = Verdict.UNAVAILABLE
        return Classified(verdict, f"provider answered the deployment {seen_status}", served)

    async def probe(self, client: httpx.AsyncClient, key: object, timeout: float) -> ProbeResult:
        try:
            request = httpx.Request("GET", self.url, headers={"accept": "application/json"})
        except (httpx.InvalidURL, UnicodeError) as exc:
            return invalid_url(exc, "deployment")
        return await send_probe(
            client, request, timeout, self.classify, self.provider.request_id
        )

    async def sample(
        self, client: httpx.AsyncClient, count: int, timeout: float
    ) -> list[ProbeResult]:
        """`count` probes, a quarter of them (at least 8) at a time, in the order their
        answers came in."""
        if count <= 1:
            return [await self.probe(client, None, timeout)]
        answers: list[ProbeResult] = []
        gate = asyncio.Semaphore(max(PARALLEL_MIN, -(-count // ROUNDS)))

        async def one() -> None:
            async with gate:
                answers.append(await self.probe(client, None, timeout))

        async with asyncio.TaskGroup() as group:
            for _ in range(count):
                group.create_task(one())
        return answers
