"""`keyturn secret set ROTATION SLOT`: store a key in the OS keychain, never echoed.

Before storing: the rotation exists and the key has the shape of its provider's key for
that slot. After: the key is read back, and the line says which keyring backend holds it
(a backend that writes keys unencrypted to disk is refused unless --allow-plaintext).
"""

from __future__ import annotations

import argparse
import sys

from tui.cli.common import EXIT_OK, EXIT_USAGE, Fail, out, prompt_console
from tui.engine import config_file
from tui.engine.config import name_problem
from tui.engine.credentials import Reference, backend_name, looks_like_key, store
from tui.engine.key_shape import shape_problem


def read_key(slot: str, rotation: str) -> str:
    """The key from a hidden prompt on a terminal, or one line of stdin when piped."""
    if sys.stdin is not None and sys.stdin.isatty():
        from rich.prompt import Prompt
        from rich.text import Text

        return Prompt.ask(Text(f"{slot} key for {rotation} (hidden)"), password=True,
                          console=prompt_console())
    return sys.stdin.readline() if sys.stdin is not None else ""


def run(args: argparse.Namespace) -> int:
    cfg = config_file.load(args.config)
    if looks_like_key(args.rotation):
        # Not a keychain name made of a key typed on the command line, nor one echoed.
        raise Fail("secret set: the rotation name looks like a raw key (the key itself is read "
                   "from a hidden prompt or stdin, never from the command line)", EXIT_USAGE)
    problem = name_problem(args.rotation)
    if problem and args.rotation not in cfg.rotations:
        raise Fail(f"secret set: {problem}", EXIT_USAGE)  # never a keychain name like that
    rotation = cfg.rotation(args.rotation)  # unknown: names the config and its rotations
    ref = getattr(rotation, args.slot)
    if Reference.parse(ref).kind != "keyring":
        raise Fail(f"{args.rotation}.{args.slot} is {ref}: only keyring: references are stored "
                   "by keyturn (set that yourself)", EXIT_USAGE)
    raw = read_key(args.slot, args.rotation)
    if not raw.strip():
        raise Fail("no key given", EXIT_USAGE)
    problem = None if args.any_shape else shape_problem(
        rotation.provider, args.slot, raw, rotation.name)
    if problem:
        raise Fail(f"not stored: {problem} (--any-shape stores it anyway)", EXIT_USAGE)
    secret = store(ref, raw, allow_plaintext=args.allow_plaintext)
    out(f"stored {args.slot} key {secret.masked} ({secret.fingerprint}) at {ref} "
        f"in {backend_name()}; read back to check")
    return EXIT_OK
