"""`keyturn secret set ROTATION SLOT`: store a key in the OS keychain, never echoed."""

from __future__ import annotations

import argparse
import getpass
import sys

from tui.cli.common import EXIT_OK, EXIT_USAGE, Fail, out
from tui.engine import config_file
from tui.engine.config import name_problem
from tui.engine.credentials import Reference, default_reference, looks_like_key, store


def run(args: argparse.Namespace) -> int:
    cfg = config_file.load(args.config)
    rotation = cfg.rotations.get(args.rotation)
    problem = name_problem(args.rotation) if rotation is None else None
    if problem:
        # Not a keychain name made of a key typed on the command line, nor one echoed.
        hint = (" (the key itself is read from a hidden prompt or stdin, never from the "
                "command line)") if looks_like_key(args.rotation) else ""
        raise Fail(f"secret set: {problem}{hint}", EXIT_USAGE)
    ref = getattr(rotation, args.slot) if rotation else default_reference(args.rotation, args.slot)
    if Reference.parse(ref).kind != "keyring":
        raise Fail(f"{args.rotation}.{args.slot} is {ref}: only keyring: references are stored "
                   "by keyturn (set that yourself)", EXIT_USAGE)
    if sys.stdin is not None and sys.stdin.isatty():
        raw = getpass.getpass(f"{args.slot} key for {args.rotation} (hidden): ")
    else:
        raw = sys.stdin.readline() if sys.stdin is not None else ""
    if not raw.strip():
        raise Fail("no key given", EXIT_USAGE)
    secret = store(ref, raw)
    out(f"stored {args.slot} key {secret.masked} ({secret.fingerprint}) at {ref}")
    return EXIT_OK
