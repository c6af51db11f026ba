"""The rotation list (`keyturn` with no command): name, provider, key fingerprints,
last rotated and due; Enter opens the chosen rotation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tui.engine.audit import warnings_to
from tui.engine.config import Config
from tui.engine.history import human_duration
from tui.engine.lifecycle import StatusRow, status_rows
from tui.engine.state_dir import StateDirError
from tui.widgets.key_bar import KeyBar

COLUMNS = ("rotation", "provider", "old key", "new key", "last rotated", "due", "state")


def due_text(row: StatusRow, now: datetime) -> Text:
    if row.due is None:
        return Text("—", style="dim")
    if row.overdue:
        return Text(f"overdue {human_duration(now - row.due)}", style="bold red")
    return Text(f"in {human_duration(row.due - now)}")


def row_cells(row: StatusRow, now: datetime) -> tuple[object, ...]:
    """One table row; a key whose reference cannot be read (missing keychain entry,
    prompt reference) shows `—`."""
    rotated = (
        Text(f"{row.last_rotated:%Y-%m-%d} ({human_duration(row.age)} ago)")
        if row.last_rotated is not None
        else Text("never", style="dim")
    )
    state = row.in_progress or row.state
    return (
        Text(row.name, style="bold"),
        row.provider,
        Text(row.old_fingerprint or "—", style="" if row.old_fingerprint else "dim"),
        Text(row.new_fingerprint or "—", style="" if row.new_fingerprint else "dim"),
        rotated,
        due_text(row, now),
        Text(state, style="bold red" if row.overdue else ""),
    )


class RotationListScreen(Screen[str | None]):
    """Dismisses with the chosen rotation's name, or None on quit."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit_list", "Quit"),
        Binding("escape", "quit_list", "Quit", show=False),
    ]

    def __init__(self, cfg: Config, now: datetime | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.now = now

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble((" keyturn ", "bold reverse"), "  rotations in ",
                                   (str(self.cfg.path), "dim")), id="list-title")
        table: DataTable[object] = DataTable(id="rotations", cursor_type="row", zebra_stripes=True)
        table.add_columns(*COLUMNS)
        yield table
        yield Static(id="list-hint")
        yield KeyBar()

    def on_mount(self) -> None:
        hint = self.query_one("#list-hint", Static)
        if not self.cfg.rotations:
            hint.update(Text(
                f"No rotations configured in {self.cfg.path}. `keyturn init` writes one; "
                "or try `keyturn demo`.", style="yellow"))
            return
        hint.update(Text("reading keys…", style="dim"))
        self.load_rows()

    @work(thread=True, exclusive=True)
    def load_rows(self) -> None:
        # Keychain look-ups can block (D-Bus); a thread keeps the screen responsive.
        now = self.now or datetime.now(UTC)
        said: list[str] = []
        try:
            with warnings_to(said.append):  # a torn line in the audit log, a future date
                rows = status_rows(self.cfg, now)
        except StateDirError as exc:  # the audit log cannot be read: say why, list nothing
            self.app.call_from_thread(self.show_problem, str(exc))
            return
        self.app.call_from_thread(self.show_rows, rows, now)
        for text in said:
            self.app.call_from_thread(self.notify, f"audit log: {text}", severity="warning",
                                      markup=False, timeout=15)

    def show_problem(self, text: str) -> None:
        self.query_one("#list-hint", Static).update(Text(text, style="bold red"))

    def show_rows(self, rows: list[StatusRow], now: datetime) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(*row_cells(row, now), key=row.name)
        self.query_one("#list-hint", Static).update(
            Text("Enter opens a rotation · — means the key is not stored yet or is asked for",
                 style="dim"))
        table.focus()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        self.dismiss(str(key.value))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(str(event.row_key.value))

    def action_help(self) -> None:
        from tui.screens.help import LIST_HELP, HelpScreen

        self.app.push_screen(HelpScreen(LIST_HELP))

    def action_quit_list(self) -> None:
        self.dismiss(None)
