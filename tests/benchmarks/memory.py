"""Engine memory: real probes through an in-process transport, 1,000 versus 100,000.

Each probe goes the whole way (request built, sent through httpx to the simulated
provider's transport, classified) and is fed to the rotation engine exactly as the
scheduler feeds it (`_on_result`), so tracks, histories, the gate and the listeners
see 100,000 results without 100,000 intervals of waiting. Between probes the driver
yields to the event loop once, as the scheduler's sleep would (without that, the
cancelled timeout timers of every probe pile up in the loop's heap, which never happens
in the product). Growth is the process's resident set size; the number of live Python
memory blocks and of GC-tracked objects are recorded beside it to name a cause.
Runs in its own process: `python -m tests.benchmarks.memory`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys

from tests.benchmarks.support import Figure


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def snapshot() -> dict[str, int]:
    gc.collect()
    return {"rss": rss_bytes(), "blocks": sys.getallocatedblocks(), "objects": len(gc.get_objects())}


async def run(total: int, baseline: int) -> dict[str, float]:
    from tui.engine.demo import build_demo
    from tui.engine.gate import Role
    from tui.engine.rotation import Phase, RotationEngine
    from tui.engine.session import open_client

    demo = build_demo(latency=(0.0, 0.0), switch_at=0.0, window=0.0)
    seen = {"events": 0}
    async with open_client(demo.provider) as client:
        engine = RotationEngine(demo.rotation, demo.provider, demo.keys, client)
        engine.listeners.append(lambda event: seen.__setitem__("events", seen["events"] + 1))
        roles = [Role.OLD, Role.NEW, Role.DEPLOYMENT]
        probes = {role: engine._probe_fn(role) for role in roles}
        verdicts: dict[str, int] = {}
        before: dict[str, int] = {}
        for i in range(total):
            if i == baseline:
                before = snapshot()
            role = roles[i % 3]
            result = await probes[role]()
            verdicts[result.verdict.value] = verdicts.get(result.verdict.value, 0) + 1
            engine._on_result(role.value, result)
            await asyncio.sleep(0)
        after = snapshot()
        assert engine.phase is Phase.READY, engine.phase  # the gate opened and stays open
    return {
        "probes": total,
        "baseline_probes": baseline,
        "rss_growth_mb": (after["rss"] - before["rss"]) / 1e6,
        "python_blocks_growth": after["blocks"] - before["blocks"],
        "gc_objects_growth": after["objects"] - before["objects"],
        "rss_at_baseline_mb": before["rss"] / 1e6,
        "events": seen["events"],
        "verdicts": verdicts,
        "world_requests": demo.world.requests,
    }


def engine_memory(total: int = 100_000, baseline: int = 1_000) -> Figure:
    """Run the measurement in a fresh process and read its JSON."""
    import subprocess

    from tests.benchmarks.support import ROOT

    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.memory", "--probes", str(total),
         "--baseline", str(baseline)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    got = json.loads(out.stdout)
    growth = got["rss_growth_mb"]
    return Figure(
        f"engine memory: after {total:,} probes vs after {baseline:,}", round(growth, 2),
        "< 5 MB growth", growth < 5, "MB",
        {k: (round(v, 3) if isinstance(v, float) else v) for k, v in got.items()},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="engine memory over many probes")
    parser.add_argument("--probes", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.probes, args.baseline))))


if __name__ == "__main__":
    main()
