"""The Markdown report of a finished rotation, written beside the audit log.

Built from the audit log (the one record of what happened) and, from the run that
finished it, the engine's probe counts, request ids and the provider's count.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tui.engine.audit import AuditLog
from tui.engine.bound import CONFIDENCE, percent
from tui.engine.config import Config, Rotation
from tui.engine.credentials import redact
from tui.engine.history import human_duration, parse_time
from tui.engine.rotation import RotationEngine
from tui.engine.state_dir import SYMLINK, StateDirError, open_file
from tui.engine.usage_words import report_lines


def state_dir_of(cfg_or_dir: Config | Path | str) -> Path:
    return Path(cfg_or_dir.state_dir if isinstance(cfg_or_dir, Config) else cfg_or_dir)


def attempt_events(
    events: list[dict[str, Any]], old_fingerprint: str, new_fingerprint: str | None
) -> list[dict[str, Any]]:
    """The events of the rotation from OLD to NEW: after the previous finished rotation,
    and only those that name these keys (or no key)."""
    start = 0
    for i, record in enumerate(events):
        if record.get("event") == "done" and record.get("old") != old_fingerprint:
            start = i + 1
    picked = []
    for record in events[start:]:
        if record.get("old", old_fingerprint) != old_fingerprint:
            continue
        if new_fingerprint and record.get("new", new_fingerprint) != new_fingerprint:
            continue
        picked.append(record)
    return picked


def _first(events: list[dict[str, Any]], *names: str) -> datetime | None:
    for record in events:
        if record.get("event") in names:
            return parse_time(record.get("time"))
    return None


def _last(events: list[dict[str, Any]], *names: str) -> datetime | None:
    for record in reversed(events):
        if record.get("event") in names:
            return parse_time(record.get("time"))
    return None


def _span(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "not recorded"
    seconds = (end - start).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else human_duration(end - start)


METHOD_WORDS = {"admin": " through the admin API", "console": " in the provider's console"}
DETAIL_FIELDS = ("method", "key_id", "destination", "slot", "result", "request_id", "status",
                 "phase", "detail", "probes",
                 "samples_since_old", "samples_needed", "old_share_bound", "max_old_share",
                 "old_last_seen_s", "deployment_requests")


def evidence_words(record: dict[str, Any] | None) -> str | None:
    """What the bound on the OLD share stood at in `record` (revoke_requested or
    gate_opened), in one sentence; None when it carries no figures (no deployment)."""
    if record is None or record.get("samples_since_old") is None:
        return None
    n = record["samples_since_old"]
    seen = record.get("old_last_seen_s")
    since = (f"since OLD was last seen {seen:g} s earlier" if seen is not None
             else "and OLD was never seen")
    limit = record.get("max_old_share")
    bound = record.get("old_share_bound")
    words = f"{n} NEW deployment samples {since}"
    if isinstance(limit, int | float) and limit >= 1.0:
        return words + "; the bound was off (max_old_share 1), the deployment's streak decided"
    if isinstance(bound, int | float):
        words += f": OLD share < {percent(bound)} ({percent(CONFIDENCE)} confidence)"
    if isinstance(limit, int | float):
        needed = record.get("samples_needed")
        words += f", within max_old_share {percent(limit)}" + (
            f" ({needed} samples needed)" if needed is not None else "")
    return words


def report_markdown(
    rotation: Rotation | str,
    events: list[dict[str, Any]],
    *,
    provider: str = "",
    probe_counts: dict[str, int] | None = None,
    request_ids: Iterable[str] = (),
    usage_lines: Iterable[str] = (),
) -> str:
    """The Markdown report of one finished rotation, from its audit events (and, from the
    run that finished it, the provider's count: `usage_lines`)."""
    name = rotation.name if isinstance(rotation, Rotation) else rotation
    provider = provider or (rotation.provider if isinstance(rotation, Rotation) else "")
    old_fp = next((r["old"] for r in events if r.get("old")), "unknown")
    new_fp = next((r["new"] for r in events if r.get("new")), "unknown")
    finished = _last(events, "done", "old_key_dead")
    live = _first(events, "new_key_live") or _first(events, "new_key_entered")
    gate = _first(events, "gate_opened")
    requested = _last(events, "revoke_requested")
    admin_ids: list[str] = []
    for record in events:
        if record.get("event") in ("revoke_confirmed", "rollback") and record.get("request_id"):
            admin_ids.append(str(record["request_id"]))
    for rid in request_ids:
        if rid and rid not in admin_ids:
            admin_ids.append(rid)
    resumed = [r for r in events if r.get("event") == "resumed"]
    method = next((r.get("method") for r in events if r.get("event") == "revoke_requested"), None)

    lines = [
        f"# keyturn report: {name}",
        "",
        f"Rotation **{name}**" + (f" ({provider})" if provider else "")
        + f" finished {_stamp(finished)}: the old key was refused for a full streak "
        "and the new key is in service.",
        "",
        f"- old key: `{old_fp}` (revoked{METHOD_WORDS.get(method or '', '')}; refusal confirmed)",
        f"- new key: `{new_fp}` (in service)",
        f"- propagation (new key first live → gate open): {_span(live, gate)}",
        f"- revocation (revoke requested → old key confirmed dead): {_span(requested, finished)}",
        f"- whole rotation (first event → done): {_span(parse_time(events[0].get('time')) if events else None, finished)}",
    ]
    if probe_counts:
        total = sum(probe_counts.values())
        parts = ", ".join(f"{role} {count}" for role, count in probe_counts.items() if count)
        note = f" by the run that finished (it resumed at {_stamp(parse_time(resumed[-1].get('time')))})" \
            if resumed else ""
        lines.append(f"- probes made: {total} ({parts}){note}")
    else:
        counted = [r.get("probes") for r in events if r.get("event") == "done" and r.get("probes")]
        if counted:
            lines.append(f"- probes made: {counted[-1]}")
    rested = next((r for r in reversed(events) if r.get("event") == "revoke_requested"), None)
    if rested is None or rested.get("samples_since_old") is None:
        rested = next((r for r in reversed(events) if r.get("event") == "gate_opened"), None)
    evidence = evidence_words(rested)
    if evidence:
        lines.append(f"- evidence the revoke rested on: {evidence}")
    asked = [r.get("deployment_requests") for r in events
             if r.get("event") == "done" and r.get("deployment_requests")]
    if asked:
        lines.append(f"- deployment requests (samples): {asked[-1]}")
    if admin_ids:
        lines.append("- admin call request ids: " + ", ".join(f"`{rid}`" for rid in admin_ids))
    elif method == "console":
        lines.append("- admin calls: none (revoked in the provider's console)")
    lines += usage_lines
    lines += ["", "## Timeline", "", "| time (UTC) | event | details |", "| --- | --- | --- |"]
    for record in events:
        details = "; ".join(
            f"{key} {record[key]}" for key in ("old", "new", *DETAIL_FIELDS) if record.get(key) is not None
        )
        lines.append(f"| {record.get('time', '?')} | {record.get('event', '?')} | "
                     f"{details.replace('|', '/')} |")
    lines.append("")
    return "\n".join(lines)


def _stamp(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC") if when else "(time not recorded)"


def write_report(
    cfg_or_state_dir: Config | Path | str, rotation_name: str, engine: RotationEngine | None = None
) -> Path:
    """Save the Markdown report of the rotation that just finished beside the audit log.

    With an engine, the report names its keys and counts its probes; without one it is
    built from the audit log alone (the newest finished rotation of that name).
    """
    audit = AuditLog(state_dir_of(cfg_or_state_dir))
    events = list(audit.events(rotation_name))
    if engine is not None:
        old_fp, new_fp = engine.fingerprints
        counts = engine.done_counts if engine.done_counts is not None else engine.probe_counts
        probe_counts = {role.value: n for role, n in counts.items()}
        request_ids = [r.request_id for r in engine.receipts if r.request_id]
        provider = engine.rotation.provider
    else:
        done = [r for r in events if r.get("event") == "done"]
        old_fp = str(done[-1].get("old")) if done else ""
        new_fp = done[-1].get("new") if done else None
        probe_counts, request_ids, provider = None, [], ""
    picked = attempt_events(events, old_fp, new_fp) if old_fp else events
    usage_lines: list[str] = []
    if engine is not None:
        # Set aside in this run, or in an earlier run of this attempt (a resumed one).
        ignored = engine.usage_ignored or next(
            (str(r.get("via") or "in an earlier run") for r in reversed(picked)
             if r.get("event") == "usage_override"), None)
        usage_lines = report_lines(engine.usage, ignored)
    text = redact(report_markdown(rotation_name, picked, provider=provider,
                                  probe_counts=probe_counts, request_ids=request_ids,
                                  usage_lines=usage_lines))
    finished = _last(picked, "done", "old_key_dead") or datetime.now(UTC)
    base = f"report-{rotation_name}-{finished.strftime('%Y%m%dT%H%M%SZ')}"
    audit.dir.mkdir(parents=True, exist_ok=True)  # the state dir itself may be a symlink
    path = audit.dir / f"{base}.md"
    n = 1
    while os.path.lexists(path):  # a dangling symlink too: it is never given a target
        if os.path.islink(path):
            raise StateDirError(path, SYMLINK)  # finish() says the report was not saved
        n += 1
        path = audit.dir / f"{base}-{n}.md"
    fd = open_file(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return path
