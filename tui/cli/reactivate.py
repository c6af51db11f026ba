"""`keyturn reactivate ROTATION [--yes]`: roll back, set the revoked OLD key active again."""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import TerminalDecider, audit_for, load_rotation, run_rotation
from tui.engine.run import Outcome, RotationRun
from tui.engine.session import load_keys


def run(args: argparse.Namespace) -> int:
    cfg, rotation = load_rotation(args)
    audit = audit_for(cfg)
    keys = load_keys(rotation)
    interactive = sys.stdin is not None and sys.stdin.isatty()

    async def body(run: RotationRun) -> Outcome:
        return await run.rollback()

    decider = TerminalDecider(yes=False, interactive=interactive, rollback=args.yes,
                              ask_reactivate=True)
    return run_rotation(rotation, keys, audit, body, decider=decider, clock=args.clock)
