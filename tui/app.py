"""The Textual dashboard: `keyturn watch ROTATION`, `keyturn` (the rotation list) and `keyturn demo`.

The app owns one RotationEngine (and its one HTTP client) for its life; the dashboard screen
listens to the engine. Crash output is built here without local variables and passed
through `redact()`, because Textual's default crash report prints every frame's locals
(and a Secret's raw value sits in a frame somewhere below the probe).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rich.console import Console
from rich.text import Text
from textual.app import App, SystemCommand
from textual.screen import Screen

from providers.base import Provider
from tui.engine.audit import AuditLog, AuditWriteError
from tui.engine.config import Config, Rotation
from tui.engine.credentials import (
    CredentialError,
    KeychainUnavailable,
    Reference,
    Secret,
    backend_name,
    redact,
    store,
)
from tui.engine.lock import RotationBusy, RotationLock
from tui.engine.rotation import RotationEngine
from tui.engine.scheduler import Clock, LoopClock
from tui.engine.session import Keys, load_keys, provider_for
from tui.engine.state_dir import StateDirError
from tui.screens.dashboard import DashboardScreen

EXIT_INTERNAL = 4


@dataclass
class Session:
    """Everything one dashboard run needs; tests inject a FakeClock and a simulated world."""

    rotation: Rotation
    provider: Provider
    keys: Keys
    clock: Clock = field(default_factory=LoopClock)
    audit: AuditLog | None = None
    demo: bool = False
    #: Held for the dashboard's whole life: one run per rotation across processes.
    lock: RotationLock | None = None

    def save_new_key(self, raw: str) -> tuple[Secret, str]:
        """Store an entered NEW key through the rotation's reference; say where it went."""
        if self.demo:
            return Secret(raw, "entered"), "held in memory (demo)"
        ref = self.rotation.new
        if Reference.parse(ref).kind != "keyring":
            # env: and prompt references are not writable by keyturn.
            return Secret(raw, "entered"), f"held in memory only ({ref} is not writable by keyturn)"
        try:
            secret = store(ref, raw)
            return secret, f"stored at {ref} in {backend_name()}"
        except KeychainUnavailable as exc:
            return Secret(raw, "entered"), f"held in memory only (not stored: {exc})"


def safe_crash_report(width: int) -> Text:
    """The current exception's traceback: no locals, every known key redacted."""
    from rich.traceback import Traceback

    buffer = io.StringIO()
    console = Console(file=buffer, width=max(60, width), color_system=None, highlight=False)
    console.print(Traceback(show_locals=False, width=None, suppress=[]))
    return Text(redact(buffer.getvalue()))


class CrashSafeApp(App[int]):
    """An App whose crash report never shows local variables or a key."""

    def _handle_exception(self, error: Exception) -> None:
        # Same as Textual's, minus the `__rich__` shortcut that would bypass the redaction.
        self._return_code = EXIT_INTERNAL
        if self._exception is None:
            self._exception = error
            self._exception_event.set()
        self._fatal_error()

    def _fatal_error(self) -> None:
        self.bell()
        self._exit_renderables.append(safe_crash_report(self.console.width or 100))
        self._close_messages_no_wait()

    def textual_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's palette entries minus its "Keys" panel: keyturn's Help (`?`) is the one
        help entry, and it lists the same keys."""
        for command in super().get_system_commands(screen):
            if command.title != "Keys":
                yield command


class KeyturnApp(CrashSafeApp):
    """The dashboard for one rotation."""

    CSS_PATH = "app.tcss"
    TITLE = "keyturn"

    def __init__(self, session: Session, *, tick: float = 1.0) -> None:
        super().__init__()
        self.session = session
        # No HTTP client yet: the engine opens it when the dashboard starts it, after the
        # first frame is out (httpx is imported then, not before).
        self.engine = RotationEngine(
            session.rotation, session.provider, session.keys, None,
            clock=session.clock, audit=session.audit,
        )
        self.tick = tick

    def get_default_screen(self) -> Screen:
        audit = self.session.audit
        return DashboardScreen(self.engine, self.session.save_new_key, demo=self.session.demo,
                               tick=self.tick, state_dir=audit.dir if audit is not None else None)

    async def on_unmount(self) -> None:
        await self.engine.stop()
        if self.engine.client is not None:
            await self.engine.client.aclose()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in self.textual_commands(screen):
            if command.title == "Quit" and isinstance(screen, DashboardScreen):
                # Quit asks first while revoking or verifying, from the palette too.
                yield SystemCommand("Quit", command.help, screen.action_quit_dashboard)
            else:
                yield command
        if not isinstance(screen, DashboardScreen):
            return
        actions: list[tuple[str, str, str, Callable[[], object]]] = [
            ("revoke", "Revoke old key", "Revoke the old key (asks first; locked until the gate opens)",
             screen.action_revoke),
            ("console_done", "Done in the console", "Say the old key was revoked in the console",
             screen.action_console_done),
            ("reactivate", "Reactivate old key", "Roll back: set the old key active again",
             screen.action_reactivate),
            ("new_key", "Enter new key", "Enter or replace the NEW key", screen.action_new_key),
            ("write_new", "Write new key", "Write the NEW key to the destinations (asks first)",
             screen.action_write_new),
            ("write_old", "Write old key back", "Undo before Revoke: write the OLD key back",
             screen.action_write_old),
            ("pause", "Pause / resume probing", "Stop or restart the probes", screen.action_pause),
            ("help", "Help", "Keys, the gate rule and the phases", screen.action_help),
        ]
        for action, title, help_text, callback in actions:
            # Same rule as the Footer: hidden when not applicable; Revoke explains when locked.
            if screen.check_action(action, ()) is not False:
                yield SystemCommand(title, help_text, callback)


class RotationListApp(CrashSafeApp):
    """`keyturn` alone: choose a rotation; the app's return value is its name (or None)."""

    CSS_PATH = "app.tcss"
    TITLE = "keyturn"

    def __init__(self, cfg: Config, error: str | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.error = error

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from self.textual_commands(screen)
        help_action = getattr(screen, "action_help", None)
        if help_action is not None:
            yield SystemCommand("Help", "Keys, columns and the commands to start with",
                                help_action)

    def on_mount(self) -> None:
        from tui.screens.rotation_list import RotationListScreen  # only `keyturn` needs it

        self.push_screen(RotationListScreen(self.cfg), self.exit)
        if self.error:
            self.notify(self.error, severity="error", markup=False, timeout=15)


def session_for(cfg: Config, name: str) -> Session:
    """Resolve a rotation's keys before the screen starts (prompts work; errors exit 2)."""
    rotation = cfg.rotation(name)
    keys = load_keys(rotation)
    audit = AuditLog(cfg.state_dir)
    # As `revoke` and `watch --headless` do: a dashboard that could not record a revoke
    # does not open (AuditWriteError: a symlink or a directory where the log goes).
    audit.ensure_writable()
    return Session(rotation, provider_for(rotation), keys, audit=audit,
                   lock=RotationLock(cfg.state_dir, rotation.name))


def run_dashboard(cfg: Config, rotation_name: str | None) -> int:
    """`keyturn watch NAME` (a name) or `keyturn` on a terminal (None: the list first)."""
    if rotation_name is not None:
        session = session_for(cfg, rotation_name)  # ConfigError/CredentialError → exit 2
        return _run_locked(session)  # RotationBusy → exit 1
    error: str | None = None
    while True:
        chooser = RotationListApp(cfg, error)
        chosen = chooser.run()
        if chooser.return_code:
            return chooser.return_code
        if not chosen:
            return 0
        try:
            session = session_for(cfg, chosen)
            session.lock.acquire()  # type: ignore[union-attr]
        except (CredentialError, RotationBusy, AuditWriteError, StateDirError) as exc:
            # Back to the list with the reason, instead of ending the program.
            error = f"{chosen}: {exc}"
            continue
        return _run_locked(session)


def _run_locked(session: Session) -> int:
    """The dashboard, holding the rotation's lock for its whole life."""
    assert session.lock is not None
    session.lock.acquire()
    try:
        return _run(KeyturnApp(session))
    finally:
        session.lock.release()


def run_demo() -> int:
    """`keyturn demo`: the dashboard on the simulated provider and deployment."""
    from tui.engine.demo import build_demo

    demo = build_demo(worker=True)  # the whole flow: write the new key, watch it land, revoke
    return _run(KeyturnApp(Session(demo.rotation, demo.provider, demo.keys, demo=True)))


def _run(app: App[int]) -> int:
    result = app.run()
    if app.return_code:
        return app.return_code
    return int(result or 0)
