"""`keyturn revoke ROTATION [--yes]`: wait for the gate, revoke, prove the old key dead."""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import (
    EXIT_USAGE,
    Fail,
    TerminalDecider,
    audit_for,
    load_rotation,
    out,
    run_rotation,
    say_json,
)
from tui.engine.lifecycle import finish_interrupted_promotion
from tui.engine.run import Outcome, RotationRun
from tui.engine.session import load_keys


def run(args: argparse.Namespace) -> int:
    cfg, rotation = load_rotation(args)
    audit = audit_for(cfg)
    repaired = finish_interrupted_promotion(rotation, audit)
    if repaired is not None:
        (say_json if args.json else out)(repaired.message)
    keys = load_keys(rotation)
    if keys.new is None:
        raise Fail(f"{rotation.name}: no new key configured; nothing to rotate to", EXIT_USAGE)
    interactive = sys.stdin is not None and sys.stdin.isatty()

    async def body(run: RotationRun) -> Outcome:
        if run.resume() is None and not args.yes and not interactive:
            # Refuse at once, not after waiting (up to --timeout) for the gate to open.
            raise Fail("refusing to revoke without confirmation: stdin is not a terminal "
                       "(pass --yes)", EXIT_USAGE)
        if getattr(args, "ignore_usage", False) and not run.already_done:
            run.engine.ignore_usage("--ignore-usage")
        return await run.rotate(args.timeout)

    decider = TerminalDecider(yes=args.yes, interactive=interactive, rollback=args.rollback)
    return run_rotation(rotation, keys, audit, body, decider=decider, clock=args.clock,
                        as_json=args.json)
