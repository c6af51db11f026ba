"""Run every benchmark against a loopback server and print the table (or one JSON object).

    python -m tests.benchmarks            # the full run (about 6 minutes: two 60 s figures)
    python -m tests.benchmarks --json     # one JSON object of the figures
    python -m tests.benchmarks --quick    # shorter runs of everything (about 2 minutes)
    python -m tests.benchmarks --only probe,scheduler

Absolute times on a shared machine drift, so ratios are measured side by side in the
same run and every timing is a median of several runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable

from tests.benchmarks.support import Figure, LoopbackServer

#: name → (what it needs, full-run kwargs, quick-run kwargs)
PLAN: dict[str, tuple[str, dict, dict]] = {
    "probe": ("server", {"rounds": 30, "batch": 100}, {"rounds": 8, "batch": 100}),
    "curl": ("server", {}, {"rounds": 3, "curls": 10, "probes": 100}),
    "connections": ("server", {}, {}),
    "scheduler": ("server", {}, {"duration": 15.0}),
    "gate": ("server", {"runs": 9}, {"runs": 3}),
    "cpu": ("server", {}, {"duration": 15.0, "warmup": 3.0}),
    "memory": ("", {}, {"total": 20_000}),
    "help": ("", {}, {"runs": 9}),
    "first_frame": ("", {}, {"runs": 3}),
    "rollout": ("", {"scenario_count": 50}, {"scenario_count": 10}),
}


def functions() -> dict[str, Callable[..., Figure]]:
    from tests.benchmarks import dashboard, engine, memory, probe, rollout, startup

    return {
        "probe": probe.probe_overhead,
        "curl": probe.curl_ratio,
        "connections": engine.new_connections,
        "scheduler": engine.scheduler_cadence,
        "gate": dashboard.gate_reaction,
        "cpu": dashboard.dashboard_cpu,
        "memory": memory.engine_memory,
        "help": startup.help_ratio,
        "first_frame": dashboard.demo_first_frame,
        "rollout": rollout.rollout_wait,
    }


def render_table(figures: list[Figure]) -> str:
    rows = [("figure", "measured", "target", "pass")]
    for f in figures:
        measured = "—" if f.measured is None else f"{f.measured:g}{(' ' + f.unit) if f.unit else ''}"
        verdict = {True: "yes", False: "NO", None: "n/a"}[f.passed]
        rows.append((f.name, measured, f.target, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for n, r in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) + " |")
        if n == 0:
            lines.append("| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--quick", action="store_true", help="shorter runs (not the figures of record)")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated: " + ", ".join(PLAN))
    args = parser.parse_args(argv)
    names = list(PLAN) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in PLAN]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    run = functions()
    figures: list[Figure] = []
    started = time.monotonic()
    load_before = machine()["load_average_1m"]
    with LoopbackServer() as server:
        for name in names:
            needs, full, quick = PLAN[name]
            kwargs = quick if args.quick else full
            if not args.json:
                print(f"… {name}", file=sys.stderr, flush=True)
            try:
                fn = run[name]
                figure = fn(server, **kwargs) if needs == "server" else fn(**kwargs)
            except Exception as exc:  # noqa: BLE001 (one broken figure must not hide the others)
                figure = Figure(name, None, "", False, note=f"error: {type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stderr)
            figures.append(figure)
    info = machine()
    info["load_average_1m_at_start"] = load_before
    if args.json:
        print(json.dumps({
            "figures": [f.as_json() for f in figures],
            "all_pass": all(f.passed for f in figures if f.passed is not None),
            "quick": args.quick,
            "seconds": round(time.monotonic() - started, 1),
            "machine": info,
        }, indent=2))
    else:
        print(render_table(figures))
        for f in figures:
            if f.note:
                print(f"note ({f.name}): {f.note}")
        print(f"\n{len(figures)} figures in {time.monotonic() - started:.0f} s; "
              f"load average {load_before} → {info['load_average_1m']} on {info['cpus']} CPUs"
              + ("; --quick: not the figures of record" if args.quick else ""))
    return 0 if all(f.passed for f in figures if f.passed is not None) else 1


if __name__ == "__main__":
    sys.exit(main())
