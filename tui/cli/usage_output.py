"""The provider's count on the command line: a JSON object (`probe --json`) and one line
(`probe`, `watch --headless`, `revoke`), with the same figures as the TRAFFIC view."""

from __future__ import annotations

from typing import Any

from providers.usage import rfc3339
from tui.engine.usage import Usage
from tui.engine.usage_words import amount, hhmm, new_since_words


def _stamp(ts: float | None) -> str | None:
    return rfc3339(ts) if ts is not None else None


def usage_json(usage: Usage, lock: tuple[str, ...] = (), ignored: str | None = None) -> dict[str, Any]:
    """The figures as JSON: per minute `null` means the report has not counted it yet."""
    return {
        "state": usage.state,
        "detail": usage.why or None,
        "unit": usage.unit,
        "report_to": _stamp(usage.covered_to),
        "read_at": _stamp(usage.read_at),
        "old_key_id": usage.old_id,
        "new_key_id": usage.new_id,
        "minutes": [{"start": rfc3339(m.start), "old": m.old, "new": m.new}
                    for m in usage.minutes],
        "old_last_used": _stamp(usage.old_last_used),
        "old_last_count": usage.old_last_count if usage.old_last_used is not None else None,
        "switch_at": _stamp(usage.switch_at),
        "old_after_switch": [{"start": rfc3339(start), "count": n}
                             for start, n in usage.old_after_switch],
        "new_since_switch": usage.new_since_switch,
        "new_counted_since": _stamp(usage.new_since),
        "locks": list(lock),
        "ignored": ignored,
    }


def usage_line(usage: Usage) -> str:
    """`usage  tokens a minute, report to 12:04 UTC: OLD 8,120 · NEW 4,210 (12:03) · …`."""
    if usage.state == "off":
        return f"usage  not read: {usage.why}"
    if usage.state == "reading":
        return "usage  reading the provider's report"
    if usage.covered_to is None:
        text = "usage  nothing counted yet"
    else:
        counted = [m for m in usage.minutes if m.old is not None]
        last = counted[-1] if counted else None
        text = f"usage  {usage.unit} a minute, report to {hhmm(usage.covered_to)} UTC"
        if last is not None:
            text += f": OLD {last.old or 0:,} · NEW {last.new or 0:,} ({hhmm(last.start)})"
        if usage.old_last_used is not None:
            text += (f" · OLD last used {hhmm(usage.old_last_used)} UTC "
                     f"({usage.ago(usage.old_last_used)})")
        else:
            text += " · OLD not counted in the minutes read"
        if usage.new_since_switch is not None:
            text += f" · NEW {amount(usage.new_since_switch, usage.unit)} {new_since_words(usage)}"
    if usage.why:
        label = "usage report unavailable" if usage.state == "unavailable" else "note"
        text += f" · {label} ({usage.why})"
    return text
