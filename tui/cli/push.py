"""`keyturn push ROTATION [--slot new|old] [--yes]`: write a key where the app reads it.

Lists the destinations, asks (refused without a terminal unless `--yes`), writes each
in turn and prints one line per destination. A Worker in a gradual deployment is asked
about at a terminal, and left alone without one. Exit 0 when every destination was
written; 1 when one failed or was skipped; 2 for usage, config or credential errors.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from tui.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    Fail,
    ask,
    audit_for,
    load_rotation,
    out,
    say,
)
from tui.engine.destinations import Destination, listing
from tui.engine.lock import RotationBusy, RotationLock
from tui.engine.push import PushRefused, key_to_write, push
from tui.engine.rotation import RotationEngine
from tui.engine.session import load_keys, open_client, provider_for


def run(args: argparse.Namespace) -> int:
    cfg, rotation = load_rotation(args)
    if not rotation.destinations:
        raise Fail(f"{cfg.path}: rotations.{rotation.name}: no destinations to write to "
                   f"(add [[rotations.{rotation.name}.destinations]])", EXIT_USAGE)
    audit = audit_for(cfg)
    keys = load_keys(rotation)
    interactive = sys.stdin is not None and sys.stdin.isatty()
    if not args.yes and not interactive:
        raise Fail("refusing to write without confirmation: stdin is not a terminal "
                   "(pass --yes)", EXIT_USAGE)

    async def gradual(destination: Destination, found: str) -> bool:
        say(found)
        if not interactive:
            say("not asked without a terminal: left as it is")
            return False
        return await ask(f"Write to {destination.label} anyway? [y/N] ")

    async def main() -> int:
        provider = provider_for(rotation)
        async with open_client(provider) as client:
            extra = {"clock": args.clock} if args.clock is not None else {}
            engine = RotationEngine(rotation, provider, keys, client, audit=audit, **extra)
            lock = RotationLock(audit.dir, rotation.name)
            try:
                lock.acquire()
            except RotationBusy as exc:
                raise Fail(f"{exc} (a dashboard on this rotation writes with `w`)") from None
            try:
                try:
                    secret = key_to_write(engine, args.slot)
                except PushRefused as exc:
                    raise Fail(str(exc)) from None
                out(f"{args.slot.upper()} key {secret.masked} ({secret.fingerprint}) for "
                    f"{rotation.name}, to:")
                for line in listing(rotation.destinations):
                    out(f"  {line}")
                if not args.yes and not await ask("Write it there? [y/N] "):
                    say("nothing written")
                    return EXIT_FAIL
                results = await push(engine, args.slot, gradual)
            finally:
                lock.release()
                await engine.stop()
        for result in results:
            say(result.line)
        written = sum(1 for r in results if r.ok)
        say(f"{written} of {len(results)} destinations written")
        return EXIT_OK if written == len(results) else EXIT_FAIL

    return asyncio.run(main())
