"""`keyturn watch ROTATION [--headless]`: the dashboard, or lines until the gate opens."""

from __future__ import annotations

import argparse

from tui.cli.common import (
    EXIT_USAGE,
    Fail,
    TerminalDecider,
    audit_for,
    load_rotation,
    run_rotation,
    say,
    say_json,
)
from tui.engine.run import Ending, Outcome, RotationRun
from tui.engine.session import load_keys


def run(args: argparse.Namespace) -> int:
    cfg, rotation = load_rotation(args)
    if args.json and not args.headless:
        raise Fail("--json prints the run as lines: use it with --headless", EXIT_USAGE)
    if not args.headless:
        from tui.app import run_dashboard

        return run_dashboard(cfg, rotation.name)
    keys = load_keys(rotation)
    if keys.new is None:
        (say_json if args.json else say)(
            f"{rotation.name}: no new key yet; watching the old key (the gate cannot open)")
    audit = audit_for(cfg)

    async def body(run: RotationRun) -> Outcome:
        # A rotation past its revoke (audit log) is verified and finished, not re-gated.
        return await run.watch(args.timeout)

    # Watching decides nothing: a revoke is `keyturn revoke`'s.
    decider = TerminalDecider(yes=False, interactive=False)
    # A watch that times out is an answer ("not yet"), printed with the lines before it.
    return run_rotation(rotation, keys, audit, body, decider=decider, clock=args.clock,
                        said=frozenset({Ending.GATE_TIMEOUT}), as_json=args.json)
