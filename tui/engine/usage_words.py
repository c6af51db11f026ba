"""The provider's count in words: times, amounts, and the Markdown report's lines.

Shared by the gate's reasons, the TRAFFIC view, the command line and the report, so a
figure reads the same wherever it is shown.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from providers.usage import MINUTE

if TYPE_CHECKING:
    from tui.engine.usage import Usage


def hhmm(ts: float) -> str:
    """`12:04` (UTC)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M")


def amount(n: int, unit: str) -> str:
    """`41 requests`, `1 request`, `8,120 tokens`."""
    return f"{n:,} {unit[:-1] if n == 1 else unit}"


def drain_words(seconds: float) -> str:
    minutes = int(seconds // MINUTE)
    return f"{minutes} min" if minutes < 120 or minutes % 60 else f"{minutes // 60} h"


def new_since_words(usage: Usage) -> str:
    """`since the switch (12:06 UTC)`, or `since 13:10 UTC (the last hour kept)`."""
    if usage.new_since is not None and usage.switch_at is not None and (
        usage.new_since > int(usage.switch_at // MINUTE * MINUTE)
    ):
        return f"since {hhmm(usage.new_since)} UTC (the last hour kept)"
    return f"since the switch ({hhmm(usage.switch_at or 0)} UTC)"


def report_lines(usage: Usage, ignored: str | None = None) -> list[str]:
    """The Markdown report's lines on the provider's count (bullets)."""
    if usage.state == "off":
        return [f"- the provider's count: not read ({usage.why})"]
    lines = []
    if usage.covered_to is None:
        lines.append("- the provider's count: nothing counted yet"
                     + (f" (usage report unavailable: {usage.why})" if usage.why else ""))
    else:
        read = f" at {hhmm(usage.read_at)} UTC" if usage.read_at else ""
        failed = "last read failed: " if usage.state == "unavailable" else ""
        lines.append(f"- the provider's count ({usage.unit} per minute, by key id): report "
                     f"read to {hhmm(usage.covered_to)} UTC{read}; later minutes not yet "
                     "counted" + (f" ({failed}{usage.why})" if usage.why else ""))
        if usage.old_id is None:
            lines.append("- OLD key: not counted (its key id is not known)")
        elif usage.old_last_used is not None:
            lines.append(f"- OLD key last counted: the minute of {hhmm(usage.old_last_used)} "
                         f"UTC ({amount(usage.old_last_count, usage.unit)}); none counted "
                         f"after it up to {hhmm(usage.covered_to)} UTC")
        else:
            lines.append("- OLD key last counted: no use counted in the minutes read")
        if usage.new_since_switch is not None:
            lines.append(f"- NEW key {new_since_words(usage)}: "
                         f"{amount(usage.new_since_switch, usage.unit)} counted")
        elif usage.switch_at is not None and usage.new_id is not None:
            # The rotation ended before the report reached the switch (it trails by minutes).
            lines.append(f"- NEW key since the switch ({hhmm(usage.switch_at)} UTC): not counted "
                         f"yet (the report reached {hhmm(usage.covered_to)} UTC)")
    if ignored:
        lines.append(f"- the usage rule was set aside ({ignored})")
    return lines
