"""`keyturn` with no command: the rotation list (the dashboard's chooser on a terminal)."""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import EXIT_OK, out
from tui.engine import config_file

START = "`keyturn init` writes a first rotation (or try `keyturn demo`)"


def run(args: argparse.Namespace) -> int:
    """No command: the list of rotations (the dashboard's chooser on a terminal)."""
    cfg = config_file.load(args.config)
    if not cfg.rotations:
        # Nothing to choose from: say how to start instead of opening an empty screen.
        where = "no config at" if not cfg.path.exists() else "no rotations configured in"
        out(f"{where} {cfg.path}: {START}")
        return EXIT_OK
    if sys.stdout.isatty() and sys.stdin is not None and sys.stdin.isatty():
        from tui.app import run_dashboard

        return run_dashboard(cfg, None)
    for name, r in sorted(cfg.rotations.items()):
        out(f"{name:<24} {r.provider:<10} deployment={'yes' if r.deployment else 'no'}")
    return EXIT_OK
