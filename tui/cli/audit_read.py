"""Reading the audit log at the terminal: its torn-line warnings as `keyturn:` lines."""

from __future__ import annotations

import warnings
from datetime import datetime

from tui.cli.common import err
from tui.engine.audit import TornLine


class TornLineWarnings:
    """Show the audit log's torn-line warnings as `keyturn: warning: ...` lines."""

    def __enter__(self) -> None:
        self._catcher = warnings.catch_warnings(record=True)
        self._caught = self._catcher.__enter__()
        warnings.simplefilter("always", TornLine)

    def __exit__(self, *exc: object) -> None:
        self._catcher.__exit__(*exc)
        for warning in self._caught:
            err(f"warning: {warning.message}")


def when(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M") if when is not None else "-"
