"""`keyturn` with no command: the rotation list (the dashboard's chooser on a terminal)."""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import EXIT_OK, out
from tui.engine import config_file


def run(args: argparse.Namespace) -> int:
    """No command: the list of rotations (the dashboard's chooser on a terminal)."""
    cfg = config_file.load(args.config)
    if sys.stdout.isatty() and sys.stdin is not None and sys.stdin.isatty():
        from tui.app import run_dashboard

        return run_dashboard(cfg, None)
    if not cfg.rotations:
        out(f"no rotations configured in {cfg.path}")
        return EXIT_OK
    for name, r in sorted(cfg.rotations.items()):
        out(f"{name:<24} {r.provider:<10} deployment={'yes' if r.deployment else 'no'}")
    return EXIT_OK
