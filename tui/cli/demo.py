"""`keyturn demo [--headless]`: the whole rotation against the simulated provider."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.cli.common import EXIT_USAGE, Fail, TerminalDecider, out, run_rotation
from tui.engine.audit import AuditLog
from tui.engine.credentials import looks_like_key
from tui.engine.demo import build_demo
from tui.engine.run import Outcome, RotationRun


def run(args: argparse.Namespace) -> int:
    if args.state_dir and looks_like_key(Path(args.state_dir).name):
        # A key pasted after --state-dir would become a directory name and be printed.
        raise Fail("demo --state-dir: that looks like a raw key, not a directory; "
                   "nothing was written", EXIT_USAGE)
    if not args.headless:
        from tui.app import run_demo

        return run_demo()
    demo = build_demo(**({"clock": args.clock.now} if args.clock is not None else {}))
    rollout = demo.world.rollout.describe() if demo.world.rollout else "switching over"
    out(f"keyturn demo: simulated provider, old and new keys, a deployment rolling out "
        f"{rollout}, streak {demo.rotation.streak}, {demo.rotation.samples} samples a tick")
    audit = AuditLog(Path(args.state_dir)) if args.state_dir else None

    async def body(run: RotationRun) -> Outcome:
        return await run.rotate(60)

    return run_rotation(
        demo.rotation, demo.keys, audit, body, provider=demo.provider, clock=args.clock,
        decider=TerminalDecider(yes=True, interactive=False), promote_slots=False,
    )
