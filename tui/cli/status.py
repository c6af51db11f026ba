"""`keyturn status [--json]`: every rotation's keys, last rotation and due date."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from tui.cli.audit_read import when
from tui.cli.common import EXIT_FAIL, EXIT_OK, out
from tui.cli.table import print_table
from tui.engine import config_file, lifecycle
from tui.engine.audit import AuditLog
from tui.engine.history import human_duration

HEADER = ("rotation", "provider", "old key", "new key", "last rotated (UTC)", "age", "every",
          "due (UTC)", "state")


def run(args: argparse.Namespace) -> int:
    cfg = config_file.load(args.config)
    now = datetime.now(UTC)
    rows = lifecycle.status_rows(cfg, now=now)
    # A scheduled check fails on what needs a person: a rotation due, or a reference that
    # still points at a key keyturn revoked.
    code = EXIT_FAIL if any(row.overdue or row.stale for row in rows) else EXIT_OK
    if args.json:
        out(json.dumps({
            "config": str(cfg.path),
            "audit_log": str(AuditLog(cfg.state_dir).path),
            "rotations": [row.to_json() for row in rows],
            "overdue": [row.name for row in rows if row.overdue],
            "stale": [row.name for row in rows if row.stale],
            "exit_code": code,
        }, indent=2))
        return code
    if not rows:
        out(f"no rotations configured in {cfg.path}; `keyturn init` writes one")
        return code
    table = []
    for row in rows:
        due = "-"
        if row.due is not None:
            left = row.due - now
            due = f"{when(row.due)} ({'in ' + human_duration(left) if left.total_seconds() > 0 else human_duration(-left) + ' ago'})"
        state = row.state + (f", stopped while {row.in_progress}" if row.in_progress else "")
        table.append((row.name, row.provider, row.old_fingerprint or "unknown",
                      row.new_fingerprint or "-", when(row.last_rotated),
                      human_duration(row.age), row.rotate_every or "-", due, state))
    print_table(HEADER, table, [(row.name, row.stale) for row in rows if row.stale])
    overdue = [row.name for row in rows if row.overdue]
    if overdue:
        out(f"overdue: {', '.join(overdue)}")
    return code
