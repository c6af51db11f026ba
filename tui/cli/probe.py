"""`keyturn probe ROTATION [--json]`: every target once; the exit code says how it went."""

from __future__ import annotations

import argparse
import asyncio

from tui.cli.common import EXIT_FAIL, EXIT_INDETERMINATE, EXIT_OK, load_rotation, out
from tui.cli.probe_output import as_json, as_table
from tui.engine.check import Health, check_once
from tui.engine.rotation import load_keys, provider_for

EXIT_FOR = {Health.LIVE: EXIT_OK, Health.FAILING: EXIT_FAIL, Health.INDETERMINATE: EXIT_INDETERMINATE}


def run(args: argparse.Namespace) -> int:
    _, rotation = load_rotation(args)
    keys = load_keys(rotation)
    check = asyncio.run(check_once(rotation, keys, provider_for(rotation)))
    code = EXIT_FOR[check.health]
    if args.json:
        out(as_json(check, code))
    else:
        for line in as_table(check):
            out(line)
    return code
