"""`keyturn log [ROTATION] [--json]`: the audit log's events, oldest first."""

from __future__ import annotations

import argparse
import json

from tui.cli.common import EXIT_OK, EXIT_USAGE, Fail, out
from tui.engine import config_file
from tui.engine.audit import AuditLog
from tui.engine.credentials import redact_keylike

LOG_FIELDS = ("old", "new", "method", "key_id", "request_id", "status", "phase", "probes", "detail")


def run(args: argparse.Namespace) -> int:
    cfg = config_file.load(args.config)
    audit = AuditLog(cfg.state_dir)
    events = list(audit.events(args.rotation))
    if args.rotation and not events and args.rotation not in cfg.rotations:
        known = ", ".join(sorted(cfg.rotations)) or "none configured"
        shown = redact_keylike(repr(args.rotation))  # a key typed as the name is not echoed
        raise Fail(f"no rotation named {shown} in {cfg.path} nor in {audit.path} "
                   f"(known: {known})", EXIT_USAGE)
    if args.json:
        for record in events:
            out(json.dumps(record))
        return EXIT_OK
    if not events:
        out(f"no events{' for ' + args.rotation if args.rotation else ''} in {audit.path}")
        return EXIT_OK
    width = max(len(str(r.get("rotation", ""))) for r in events)
    for record in events:
        known = [f"{k}={record[k]}" for k in LOG_FIELDS if record.get(k) is not None]
        extra = [f"{k}={v}" for k, v in record.items()
                 if k not in LOG_FIELDS and k not in ("time", "rotation", "event")]
        rotation, event = str(record.get("rotation", "?")), str(record.get("event", "?"))
        out(f"{record.get('time', '?')}  {rotation:<{width}}  {event:<16}  "
             f"{' '.join(known + extra)}".rstrip())
    return EXIT_OK
