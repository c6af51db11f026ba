"""Probe cost: keyturn's full probe against a bare httpx GET and against one curl per probe."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

from providers.anthropic import API_VERSION, AnthropicProvider
from tests.benchmarks.support import NEW_KEY, Figure, LoopbackServer, median
from tui.engine.credentials import Secret
from tui.engine.session import open_client


async def _overhead_rounds(server: LoopbackServer, rounds: int, batch: int) -> dict[str, list[float]]:
    """Per-probe seconds, alternating batches of bare GETs and keyturn probes, one connection."""
    provider = AnthropicProvider(base_url=server.url)
    key = Secret(NEW_KEY, "bench")
    url = provider.url("/v1/models")
    headers = {"x-api-key": key.reveal(), "anthropic-version": API_VERSION}
    bare: list[float] = []
    full: list[float] = []
    async with open_client(provider) as client:
        for _ in range(200):  # warm the connection and both code paths
            await client.get(url, headers=headers)
            await provider.probe(client, key, 5.0)
        for i in range(rounds):
            # Alternate which side goes first, so neither gains from the order.
            for side in (("bare", "full") if i % 2 == 0 else ("full", "bare")):
                t0 = time.perf_counter()
                if side == "bare":
                    for _ in range(batch):
                        response = await client.get(url, headers=headers)
                        response.json()  # a bare check still looks at the answer
                    bare.append((time.perf_counter() - t0) / batch)
                else:
                    for _ in range(batch):
                        result = await provider.probe(client, key, 5.0)
                    full.append((time.perf_counter() - t0) / batch)
                    assert result.verdict.value == "live", result
    return {"bare": bare, "full": full}


def probe_overhead(server: LoopbackServer, rounds: int = 16, batch: int = 200) -> Figure:
    times = asyncio.run(_overhead_rounds(server, rounds, batch))
    ratios = [f / b for f, b in zip(times["full"], times["bare"], strict=True)]
    ratio = median(ratios)
    return Figure(
        "probe overhead: keyturn probe ÷ bare httpx GET (warm connection)",
        round(ratio, 3), "≤ 1.15", ratio <= 1.15, "×",
        {"keyturn_probe_us": round(median(times["full"]) * 1e6, 1),
         "bare_get_us": round(median(times["bare"]) * 1e6, 1),
         "rounds": rounds, "batch": batch},
    )


async def _keyturn_probe_times(server: LoopbackServer, n: int) -> list[float]:
    provider = AnthropicProvider(base_url=server.url)
    key = Secret(NEW_KEY, "bench")
    out: list[float] = []
    async with open_client(provider) as client:
        for _ in range(n):
            t0 = time.perf_counter()
            await provider.probe(client, key, 5.0)
            out.append(time.perf_counter() - t0)
    return out


def curl_path() -> str | None:
    return shutil.which("curl")


def curl_ratio(server: LoopbackServer, rounds: int = 7, curls: int = 20, probes: int = 200) -> Figure:
    """keyturn probe ÷ one curl process per probe (what a shell loop does each second)."""
    curl = curl_path()
    if curl is None:
        return Figure("keyturn probe ÷ one curl process per probe", None, "≤ 0.2", None,
                      note="curl not installed (apt-get install curl)")
    url = server.url + "/v1/models"
    command = [curl, "-s", "-o", "/dev/null", "-w", "%{http_code}",
               "-H", f"x-api-key: {NEW_KEY}", "-H", f"anthropic-version: {API_VERSION}", url]
    ratios: list[float] = []
    curl_times: list[float] = []
    probe_times: list[float] = []
    for _ in range(rounds):
        c: list[float] = []
        for _ in range(curls):
            t0 = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            c.append(time.perf_counter() - t0)
            assert done.stdout == "200", done.stdout
        p = asyncio.run(_keyturn_probe_times(server, probes))[20:]  # first ones open the connection
        curl_times.append(median(c))
        probe_times.append(median(p))
        ratios.append(median(p) / median(c))
    ratio = median(ratios)
    return Figure(
        "keyturn probe ÷ one curl process per probe", round(ratio, 4), "≤ 0.2", ratio <= 0.2, "×",
        {"keyturn_probe_us": round(median(probe_times) * 1e6, 1),
         "curl_process_us": round(median(curl_times) * 1e6, 1), "rounds": rounds},
    )
