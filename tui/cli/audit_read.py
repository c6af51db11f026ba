"""Reading the audit log at the terminal: its warnings as `keyturn: warning:` lines."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime


def audit_warnings_as_lines() -> AbstractContextManager[None]:
    """For a whole command (`tui.cli.main` wraps every one): each audit log warning (a
    torn line skipped, a future date not believed) is one `keyturn: warning: ...` line
    on stderr, at once and once, never a Python warning with a file name and line."""
    from tui.cli.common import err
    from tui.engine.audit import warnings_to

    return warnings_to(lambda text: err(f"warning: {text}"))


def when(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M") if when is not None else "-"
