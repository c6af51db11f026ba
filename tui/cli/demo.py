"""`keyturn demo [--headless]`: the whole rotation against the simulated provider."""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.cli.common import EXIT_USAGE, Fail, TerminalDecider, out, run_rotation, say
from tui.engine.audit import AuditLog
from tui.engine.credentials import looks_like_key
from tui.engine.demo import DEMO_ROLLOUT, build_demo
from tui.engine.destinations import Destination
from tui.engine.push import push
from tui.engine.run import Outcome, RotationRun


def run(args: argparse.Namespace) -> int:
    if args.state_dir and looks_like_key(Path(args.state_dir).name):
        # A key pasted after --state-dir would become a directory name and be printed.
        raise Fail("demo --state-dir: that looks like a raw key, not a directory; "
                   "nothing was written", EXIT_USAGE)
    if not args.headless:
        from tui.app import run_demo

        return run_demo()
    demo = build_demo(worker=True,
                      **({"clock": args.clock.now} if args.clock is not None else {}))
    out("keyturn demo: simulated provider, old and new keys, a Cloudflare Worker serving the "
        "old key until the new one is written to its secret, then rolling out "
        f"{DEMO_ROLLOUT.describe()}; streak {demo.rotation.streak}, "
        f"{demo.rotation.samples} samples a tick")
    audit = AuditLog(Path(args.state_dir)) if args.state_dir else None

    async def body(run: RotationRun) -> Outcome:
        run.start()
        engine = run.engine
        await engine.wait_until(lambda: engine.first_live_at is not None, 10)
        say("the new key answers, the Worker still serves the old one: writing the new key "
            "to its secret (what `w` in the dashboard, or `keyturn push`, does)")
        await push(engine, "new", ask=never)
        return await run.rotate(60)

    return run_rotation(
        demo.rotation, demo.keys, audit, body, provider=demo.provider, clock=args.clock,
        decider=TerminalDecider(yes=True, interactive=False), promote_slots=False,
    )


async def never(destination: Destination, found: str) -> bool:
    """The demo's Worker is never in a gradual deployment; were it, it is left alone."""
    return False
