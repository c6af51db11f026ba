"""The dashboard: header, gate bar, OLD/NEW/DEPLOYMENT cards and the revoke actions.

The screen holds no rotation logic: it listens to the RotationEngine, turns each event
into a dataclass Message, and redraws from the engine's state. Whether Revoke may be
pressed is `engine.can_revoke`, copied into a `revoke_allowed` reactive so the key bar,
the button and the `r` key are always in step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.events import Key
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Button

from providers.results import ProbeResult
from tui.engine.audit import warnings_to
from tui.engine.credentials import CredentialError, Secret, redact
from tui.engine.gate import GateState, Role, with_platform_rollout
from tui.engine.key_shape import shape_problem
from tui.engine.rotation import (
    PRE_REVOKE,
    GateLocked,
    Notice,
    Phase,
    PhaseChanged,
    Probed,
    RevokeRefused,
    RotationEngine,
)
from tui.engine.run import Ending, RotationRun
from tui.screens import usage_override
from tui.screens.asked import Asked
from tui.screens.confirm import ConfirmationModal
from tui.screens.help import HelpScreen
from tui.screens.new_key import NewKeyModal
from tui.screens.push_flow import PushFlow
from tui.widgets.deployment_card import DeploymentCard
from tui.widgets.event_log import EventLog
from tui.widgets.gate_bar import GateBar
from tui.widgets.key_bar import KeyBar
from tui.widgets.probe_card import ProbeCard
from tui.widgets.revoke_panel import RevokePanel
from tui.widgets.rotation_header import RotationHeader
from tui.widgets.traffic import TrafficView
from tui.widgets.worker_rollout import DeploymentColumn, WorkerRollout

#: Stores an entered NEW key through the rotation's reference: (Secret, where it went).
KeySaver = Callable[[str], tuple[Secret, str]]

#: Shorter than any provider's API key: a typed letter or a word pasted by mistake.
MIN_KEY_LENGTH = 20

#: Columns from which the cards stand side by side (below: stacked and compact).
WIDE = 100

#: How long the cards that answered wait for the rest of their tick's answers, at most.
COALESCE = 0.05

#: Phases during which quitting asks first: the old key's fate is not yet proven.
ASK_BEFORE_QUIT = frozenset({Phase.REVOKING, Phase.VERIFYING})

#: Phases that end a wait a person may have walked away from: the bell, and a desktop
#: notification where one is available.
ENDINGS = {Phase.DONE: "rotation done", Phase.FAILED: "ALARM", Phase.ROLLED_BACK: "rolled back"}


# -- engine events as messages -----------------------------------------------------


@dataclass
class ProbeArrived(Message):
    role: Role
    result: ProbeResult
    #: Engine-clock time the result arrived (the screen shows "n s ago" from it).
    at: float


@dataclass
class PhaseMoved(Message):
    phase: Phase
    reason: str


@dataclass
class GateMoved(Message):
    gate: GateState


@dataclass
class EngineNotice(Message):
    text: str
    level: str


SEVERITY = {"info": "information", "warning": "warning", "error": "error"}


class DashboardScreen(Screen[None]):
    """One rotation, live."""

    AUTO_FOCUS = ""  # none: after_first_frame() focuses the scroll area
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (WIDE, "-wide")]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "revoke", "Revoke", id="revoke", tooltip="Revoke the old key"),
        Binding("c", "console_done", "Done in console", id="console-done"),
        Binding("a", "reactivate", "Reactivate old key", id="reactivate"),
        Binding("n", "new_key", "New key", id="new-key"),
        Binding("w", "write_new", "Write key", id="write-new",
                tooltip="Write the NEW key to the destinations"),
        Binding("u", "write_old", "Write OLD back", id="write-old", show=False),
        Binding("p", "pause", "Pause/resume", id="pause"),
        Binding("question_mark", "help", "Help", key_display="?", id="help"),
        Binding("q", "quit_dashboard", "Quit", id="quit"),
    ]

    # They decide which keys work (check_action) and how the key bar shows them; nothing
    # is drawn from them directly, so a change repaints no more than the widgets that
    # change with it. (A reactive repaints its owner by default: here, the whole screen,
    # which was a third of the time from the gate opening to Revoke enabled on screen.)
    revoke_allowed: reactive[bool] = reactive(False, bindings=True, repaint=False)
    phase: reactive[Phase] = reactive(Phase.WAITING, bindings=True, repaint=False)
    paused: reactive[bool] = reactive(False, bindings=True, repaint=False)

    def __init__(self, engine: RotationEngine, save_new_key: KeySaver, *, demo: bool = False,
                 tick: float = 0.5, state_dir: Path | None = None) -> None:
        super().__init__()
        self.engine = engine
        #: Where the audit log lives: resume from it at start, write the report at `done`.
        self.state_dir = state_dir
        self.save_new_key = save_new_key
        self.demo = demo
        self.tick = tick
        self.last_at: dict[Role, float] = {}
        self._confirm: ConfirmationModal | None = None
        self._binding_state: tuple[bool, bool] = (False, False)
        self._skip_tick = False
        #: Cards with answers not drawn yet, and the timer that draws them at the latest.
        self._answered: set[Role] = set()
        self._coalesce: Timer | None = None
        #: The questions the rotation run waits on, answered by keys and confirmations.
        self.revoke_asked = Asked()
        self.console_asked = Asked()
        self.reactivate_asked = Asked()
        #: The one rotation run: the same sequence the CLI drives, with this screen deciding.
        self.run = RotationRun(engine, self, self.say, promote_slots=not demo, until_done=True)
        self._gate_was_open = engine.gate.open
        #: Writing a key to the rotation's destinations (`w`, `u`).
        self.push_flow = PushFlow(self)

    # -- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # The breakpoint class the first resize would set, set before the widgets mount:
        # switching it later restyles every widget once more before the first frame.
        width = self.app.size.width
        self.set_class(width < WIDE, "-narrow")
        self.set_class(width >= WIDE, "-wide")
        yield RotationHeader(id="header")
        yield GateBar(id="gate")  # outside the scroll: the gate is always in sight
        with VerticalScroll(id="main"):
            with Horizontal(id="cards"):
                yield ProbeCard("OLD key", id="card-old")
                yield ProbeCard("NEW key", id="card-new")
                if self.engine.deployment is not None and self.engine.platform.watches:
                    with DeploymentColumn():
                        yield DeploymentCard(self.engine.deployment.url, id="card-deployment")
                        yield WorkerRollout(id="worker-rollout")
                elif self.engine.deployment is not None:
                    yield DeploymentCard(self.engine.deployment.url, id="card-deployment")
            if self.engine.deployment is None and self.engine.platform.watches:
                yield WorkerRollout(id="worker-rollout")  # no card to stand under
            yield TrafficView(id="traffic")
            yield RevokePanel(id="actions")
            yield EventLog(id="events")
        yield KeyBar()

    def on_mount(self) -> None:
        self.opened_at = self.engine.clock.now()
        self.log_event(f"watching {self.engine.rotation.name}: old key "
                       f"{self.engine.keys.old.fingerprint}, new key "
                       + (self.engine.keys.new.fingerprint if self.engine.keys.new else "not set")
                       + f", streak {self.engine.rotation.streak}, every "
                       f"{self.engine.rotation.interval:g}s")
        if self.demo and self.engine.platform.watches:
            self.log_event("demo: the app is a Cloudflare Worker serving OLD; press w to write "
                           "NEW to its secret")
        self.engine.listeners.append(self._on_engine_event)
        if self.state_dir is not None:
            # What the audit log could not give (a torn line skipped) is said here: the
            # terminal's stderr is not on screen while the dashboard runs.
            with warnings_to(lambda text: self.log_event(f"warning: {text}", "warning")):
                self.run.resume()
        self.redraw()
        self._ticker = self.set_interval(self.tick, self.on_tick)
        self.call_after_refresh(self.after_first_frame)

    def after_first_frame(self) -> None:
        """What the first frame need not wait for (tests/benchmarks: first frame).

        Probing starts, and with it the HTTP client and the httpx import: the first probe
        waits one frame. The scroll area takes the focus (arrow keys scroll a stacked
        layout): focusing it restyles everything inside it, so not before the first frame.
        """
        self.query_one("#main").focus()
        self.start_run()

    def on_screen_suspend(self) -> None:
        # A key pressed before the first frame (n, ?) opens a modal over this screen, whose
        # after-refresh callbacks then wait for it: probing must not wait for the modal.
        self.start_run()

    def start_run(self) -> None:
        if self.engine.started:
            return
        self.run.start()
        if not self.engine.started:  # a finished rotation: nothing to drive, keep watching
            self.engine.start()
        self.drive_run()

    @work(group="run", exit_on_error=True)
    async def drive_run(self) -> None:
        """The rotation run, for the life of the screen; it asks this screen to decide."""
        outcome = await self.run.rotate()
        if self.closing:
            return  # quit as the run ended (its report written): nothing left to draw on
        if outcome.message:
            level = "info" if outcome.ok else "error"
            self.log_event(outcome.message, level)
            if outcome.ending in (Ending.REVOKE_FAILED, Ending.ALARM) and not outcome.ok:
                self.notify(outcome.message, severity="error", markup=False, timeout=10)
        self.redraw()

    def say(self, line: str) -> None:
        """A line of the rotation run, in the event log."""
        self.log_event(line)

    # -- the run's questions (Decider): each waits for a key press and a confirmation --
    async def revoke(self, engine: RotationEngine) -> bool:
        try:
            return await self.revoke_asked.wait()
        except asyncio.CancelledError:
            # The run withdrew the question because the gate shut; a cancel with the gate
            # still open is the screen closing, which takes its modal with it.
            if not self.engine.can_revoke:
                self.withdraw_confirmation()
            raise

    async def console_done(self, engine: RotationEngine, steps: str) -> bool:
        return await self.console_asked.wait()

    async def reactivate(self, engine: RotationEngine, alarm: str) -> bool:
        return await self.reactivate_asked.wait()

    def withdraw_confirmation(self) -> None:
        """The gate shut while the revoke question was open: the question is withdrawn."""
        if self._confirm is None:
            return
        modal, self._confirm = self._confirm, None
        modal.dismiss(False)
        self.notify(f"Revoke locked again: {self.engine.gate.summary}", severity="warning",
                    markup=False)

    def on_resize(self) -> None:
        # Stacked cards go compact; the header fits its extras to the width: draw again.
        compact = self.has_class("-narrow")
        for card in self.query(ProbeCard):
            card.compact = compact
        self.call_after_refresh(self.redraw_times)

    def on_unmount(self) -> None:
        self.run.close()
        if self._on_engine_event in self.engine.listeners:
            self.engine.listeners.remove(self._on_engine_event)

    # -- engine → messages ------------------------------------------------------------
    def _on_engine_event(self, event: object) -> None:
        """Called by the engine on the event loop; only posts, so probing never waits on drawing."""
        if isinstance(event, Probed):
            self.post_message(ProbeArrived(event.role, event.result, self.engine.clock.now()))
        elif isinstance(event, PhaseChanged):
            self.post_message(PhaseMoved(event.phase, event.reason))
        elif isinstance(event, Notice):
            self.post_message(EngineNotice(event.text, event.level))
        else:  # GateChanged and anything newer: a redraw from the engine's state is enough
            self.post_message(GateMoved(self.engine.gate))

    def on_probe_arrived(self, message: ProbeArrived) -> None:
        # The card that answered, and any card whose last answer is a second or more old
        # (throttled, backing off): the others move on with their own answers, which come
        # a few milliseconds apart. Drawing every card on every answer cost 3.7-4.4 % of
        # a core with 3 targets at 1 s; this card only, 3.1-3.4 % (tests/benchmarks).
        stale = tuple(role for role, at in self.last_at.items()
                      if role is not message.role and message.at - at >= 1.0)
        self.last_at[message.role] = message.at
        self._answered.update((message.role, *stale))
        if self.engine.scheduler.in_flight:
            # The answers of one tick come milliseconds apart: drawn together they cost
            # one frame, not two or three; a slow one is waited for at most COALESCE.
            if self._coalesce is None:
                self._coalesce = self.set_timer(COALESCE, self.draw_answers)
            return
        self.draw_answers()

    def draw_answers(self) -> None:
        """Draw the cards whose answers came in (see on_probe_arrived)."""
        if self._coalesce is not None:
            self._coalesce.stop()
            self._coalesce = None
        roles, self._answered = tuple(self._answered), set()
        if roles:
            self.redraw(roles)
        # Times were just drawn; the tick starts over and its next beat, which would land
        # with the next answers, draws nothing.
        self._ticker.reset()
        self._skip_tick = True

    def on_tick(self) -> None:
        """Times (`3s ago`, `live 12s`) move on their own while no answer comes in."""
        if self._skip_tick:
            self._skip_tick = False
            return
        self.redraw_times()

    @property
    def closing(self) -> bool:
        """The screen is being taken down: Textual removes its widgets before it stops the
        rotation run, which may still be writing the report and saying so."""
        return not self.query(EventLog)

    def log_event(self, line: str, level: str = "info") -> None:
        for log in self.query(EventLog):  # none while the screen closes: the line is dropped
            log.add(self.engine.clock.now() - self.opened_at, line, level)

    def on_phase_moved(self, message: PhaseMoved) -> None:
        self.log_event(f"phase → {message.phase}" + (f"  ({message.reason})" if message.reason else ""),
                       "phase")
        if message.phase in ENDINGS:
            self.attention(ENDINGS[message.phase], self.engine.alarm or message.reason)
        self.redraw()

    def on_gate_moved(self, message: GateMoved) -> None:
        opened = message.gate.open and not self._gate_was_open
        self._gate_was_open = message.gate.open
        if opened and self.engine.phase in PRE_REVOKE:
            self.attention("Revoke unlocked", "the new key and the deployment answered live "
                                              "for a full streak: press r")
        self.redraw()

    def attention(self, title: str, body: str) -> None:
        """The bell, and a desktop notification when the dashboard runs on a real terminal
        (not under a test's headless driver, not in the demo)."""
        self.app.bell()
        if not self.app.is_headless and not self.demo:
            from tui.notify import desktop

            desktop(f"keyturn: {self.engine.rotation.name}: {title}", body)

    def on_engine_notice(self, message: EngineNotice) -> None:
        self.log_event(message.text, message.level)
        if message.text == self.engine.console_steps():
            return  # shown in the panel, with the `c` key beside it
        if message.level != "info":  # the log has it; a toast only for what needs a look
            self.notify(message.text, severity=SEVERITY.get(message.level, "information"),
                        markup=False, timeout=10 if message.level == "error" else 5)
        self.redraw()

    # -- drawing -----------------------------------------------------------------------
    def redraw(self, roles: tuple[Role, ...] | None = None) -> None:
        """Copy the engine's state into the reactives and draw; `roles` limits the cards."""
        engine = self.engine
        self.phase = engine.phase
        # Paused probes are stale evidence: Revoke waits for fresh answers.
        self.revoke_allowed = engine.can_revoke
        self.paused = engine.paused
        # `c` and `a` depend on engine state that is not a reactive; the key bar is redrawn
        # only when that state changes.
        extra = (engine.awaiting_console, self.reactivate_offered)
        if extra != self._binding_state:
            self._binding_state = extra
            self.refresh_bindings()
        self.redraw_times(roles)
        self.redraw_platform()

    def redraw_platform(self) -> None:
        """The Workers' rollout line under the DEPLOYMENT card (Cloudflare's own word)."""
        platform = self.engine.platform
        if not platform.watches:
            return
        holding = (self.engine.phase in PRE_REVOKE
                   and not with_platform_rollout(GateState(True), platform.rollouts()).open)
        self.query_one(WorkerRollout).show(platform.lines(), holding)

    def redraw_times(self, roles: tuple[Role, ...] | None = None) -> None:
        """Everything that shows a duration, from the engine's clock (never the wall clock)."""
        engine = self.engine
        roles = tuple(Role) if roles is None else roles
        now = engine.clock.now()
        old_fp, new_fp = engine.fingerprints
        self.query_one(RotationHeader).show(
            name=engine.rotation.name,
            provider=engine.rotation.provider,
            phase=engine.phase.value,
            live_for=None if engine.first_live_at is None else now - engine.first_live_at,
            paused=engine.paused,
            demo=self.demo,
        )
        state, label, detail = self.gate_text()
        self.query_one(GateBar).show(state, label, detail)
        verifying = engine.phase not in PRE_REVOKE and engine.phase is not Phase.REVOKING
        if Role.OLD in roles:
            self.query_one("#card-old", ProbeCard).show(
                engine.tracks[Role.OLD], engine.keys.old, last_at=self.last_at.get(Role.OLD),
                now=now, counting="refused" if verifying else "live",
            )
        if Role.NEW in roles:
            self.query_one("#card-new", ProbeCard).show(
                engine.tracks[Role.NEW], engine.keys.new, last_at=self.last_at.get(Role.NEW),
                now=now,
            )
        if engine.deployment is not None and Role.DEPLOYMENT in roles:
            self.query_one(DeploymentCard).show_deployment(
                engine.tracks[Role.DEPLOYMENT], old_fp, new_fp,
                last_at=self.last_at.get(Role.DEPLOYMENT), now=now, alarm=engine.alarm,
            )
        self.query_one(TrafficView).show(engine.usage, engine.usage_lock, engine.usage_ignored)
        self.query_one(RevokePanel).show(
            revoke_allowed=self.revoke_allowed,
            revoke_shown=engine.phase in PRE_REVOKE,
            console_steps=engine.console_steps() if engine.awaiting_console else None,
            can_reactivate=self.reactivate_offered,
            status=self.status_text(),
        )

    def gate_text(self) -> tuple[str, str, str]:
        """(state, label, plain words) for the gate bar, by phase."""
        engine = self.engine
        phase = engine.phase
        old = engine.tracks[Role.OLD]
        if phase in PRE_REVOKE:
            if engine.paused:
                return "locked", "PAUSED", "probing paused · press p to resume; Revoke waits for fresh answers"
            if engine.gate.open:
                evidence = engine.evidence
                bounded = evidence is not None and evidence.needed > 0
                return "open", "REVOKE UNLOCKED", (
                    f"new key live {engine.rotation.streak}× in a row"
                    + (", deployment on NEW" if engine.deployment else "")
                    + (f", {evidence.bound_text()}" if bounded else "")
                    + (" · press r to revoke" if bounded else " · press r to revoke the old key"))
            return "locked", "REVOKE LOCKED", engine.gate.summary
        if phase is Phase.REVOKING:
            if engine.awaiting_console:
                return "working", "REVOKE IN THE CONSOLE", "revoke the old key there, then press c"
            return "working", "REVOKING", "asking the provider to revoke the old key"
        if phase is Phase.VERIFYING:
            words = f"old key refused {min(old.streak, old.need)}/{old.need}"
            dep = engine.tracks.get(Role.DEPLOYMENT)
            if dep is not None:
                words += f" · deployment live on NEW {min(dep.streak, dep.need)}/{dep.need}"
            return "working", "VERIFYING", words
        if phase is Phase.DONE:
            return "done", "DONE", (f"old key refused {old.need}× in a row"
                                    + (", deployment live on NEW" if engine.deployment else "")
                                    + " · q quits")
        if phase is Phase.FAILED:
            hint = " · press a to reactivate the old key" if self.reactivate_offered else ""
            return "alarm", "ALARM", (engine.alarm or "rotation failed") + hint
        return "alarm", "ROLLED BACK", "the old key is active again; fix the deployment, then rotate again"

    def status_text(self) -> str:
        receipts = self.engine.receipts
        if receipts:
            last = receipts[-1]
            rid = f" (request id {last.request_id})" if last.request_id else ""
            return f"provider: key {last.key_id} {last.action}{rid}"
        return "probing paused" if self.engine.paused else ""

    @property
    def reactivate_offered(self) -> bool:
        """Rollback is offered after an alarm, where the provider can reactivate."""
        return self.engine.phase is Phase.FAILED and self.engine.can_reactivate

    # -- bindings ------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "revoke":
            if self.phase not in PRE_REVOKE:
                return False
            return True if self.revoke_allowed else None  # None: shown dimmed in the key bar
        if action == "console_done":
            return self.engine.awaiting_console
        if action == "reactivate":
            return self.reactivate_offered
        if action == "new_key":
            return True if self.phase in PRE_REVOKE else None
        if action in ("write_new", "write_old"):
            if not self.engine.rotation.destinations:
                return False
            if self.push_flow.running:
                return None
            if action == "write_new":
                return True if self.engine.keys.new is not None else None
            return True if self.engine.keys.old.fingerprint not in self.engine.revoked else None
        return True

    def on_key(self, event: Key) -> None:
        # A dimmed binding does not run its action; the key lands here, so say why.
        if event.key == "r" and not self.revoke_allowed:
            event.stop()
            self.explain_locked()
        elif event.key == "n" and self.phase not in PRE_REVOKE:
            event.stop()
            self.notify(f"The new key cannot be replaced while {self.phase}.", severity="warning",
                        markup=False)
        elif event.key in ("w", "u") and self.check_action(
                "write_new" if event.key == "w" else "write_old", ()) is None:
            event.stop()  # dimmed: say why instead of doing nothing
            self.push_flow.start("new" if event.key == "w" else "old")

    def explain_locked(self) -> None:
        if usage_override.offered(self.engine):
            usage_override.ask(self, self.engine, self.redraw)
            return
        if self.engine.paused and self.engine.gate.open:
            self.notify("Revoke is locked while probing is paused: press p to resume, so the "
                        "gate is judged on fresh answers.", severity="warning", markup=False)
            return
        try:
            self.engine.check_revoke()
        except (GateLocked, RevokeRefused) as exc:
            self.notify(f"Revoke is locked: {exc}", severity="warning", markup=False)
            return
        self.notify("Revoke is locked.", severity="warning", markup=False)

    @on(Button.Pressed, "#revoke")
    def action_revoke(self) -> None:
        """Open the confirmation; the engine checks the gate again when it is answered."""
        if not self.revoke_allowed:
            self.explain_locked()
            return
        old = self.engine.keys.old
        how = ("through the provider's admin API" if self.engine.keys.admin is not None
               else "(you will do it in the provider's console)")
        self._confirm = ConfirmationModal(
            "Revoke the OLD key?",
            f"OLD key {old.masked}\nfingerprint {old.fingerprint}\n\n"
            f"It will be revoked {how}, then keyturn watches until it is refused "
            f"{self.engine.rotation.streak} times in a row."
            + (f"\n\n{self.engine.revoke_warning}." if self.engine.revoke_warning else "")
            + usage_override.confirmation_words(self.engine),
            yes="Revoke (y)", no="Cancel (n)",
        )
        self.app.push_screen(self._confirm, self._revoke_answered)

    def _revoke_answered(self, confirmed: bool | None) -> None:
        self._confirm = None
        self.log_event("revoke confirmed by you" if confirmed else "revoke cancelled")
        if confirmed and not self.revoke_asked.answer(True):
            self.notify(f"Not revoked: {self.engine.gate.summary}", severity="warning",
                        markup=False)

    @on(Button.Pressed, "#console-done")
    def action_console_done(self) -> None:
        if self.console_asked.answer(True):
            self.log_event("you said the old key is revoked in the console")
        else:
            self.notify("no console revocation is pending", severity="warning", markup=False)
        self.redraw()

    @on(Button.Pressed, "#reactivate")
    def action_reactivate(self) -> None:
        if not self.reactivate_offered:
            return
        old = self.engine.keys.old
        self.app.push_screen(
            ConfirmationModal(
                "Reactivate the OLD key?",
                f"OLD key {old.masked}\nfingerprint {old.fingerprint}\n\n"
                "The provider sets it active again so the deployment can serve it "
                "while you fix it. The rotation ends as rolled-back.",
                yes="Reactivate (y)", no="Cancel (n)",
            ),
            self._reactivate_answered,
        )

    def _reactivate_answered(self, confirmed: bool | None) -> None:
        if confirmed and not self.reactivate_asked.answer(True):
            self.notify("no reactivation is pending", severity="warning", markup=False)

    def action_new_key(self) -> None:
        ref = self.engine.rotation.new
        where = ("Demo: held in memory only; the simulated provider does not know a typed key, "
                 "so expect `rejected`." if self.demo else f"It is stored at {ref}.")
        self.app.push_screen(NewKeyModal(where), self._new_key_entered)

    def _new_key_entered(self, raw: str | None) -> None:
        if raw is None:
            return
        try:
            candidate = Secret(raw, "the pasted text")
            # A stray keypress must not replace a good new key (and reset its streak).
            if len(candidate.reveal()) < MIN_KEY_LENGTH:
                raise CredentialError("the pasted text is too short to be an API key")
            if candidate == self.engine.keys.old:
                raise CredentialError("that is the old key; enter the new one")
            problem = shape_problem(self.engine.rotation.provider, "new", raw,
                                    self.engine.rotation.name)
            if problem:
                raise CredentialError(problem)
            if self.engine.phase not in PRE_REVOKE:
                raise RevokeRefused(f"cannot replace the new key while {self.engine.phase}")
        except (CredentialError, RevokeRefused) as exc:
            self.notify(f"New key not changed: {redact(str(exc))}", severity="error", markup=False)
            return
        self.store_new_key(raw)

    @work(thread=True, group="keychain")
    def store_new_key(self, raw: str) -> None:
        """The keychain can block (D-Bus, an unlock prompt): store off the event loop."""
        try:
            secret, note = self.save_new_key(raw)
        except CredentialError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        self.app.call_from_thread(self._use_new_key, secret, note)

    def _use_new_key(self, secret: Secret, note: str) -> None:
        try:
            self.engine.set_new_key(secret)
        except (CredentialError, RevokeRefused) as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.last_at.pop(Role.NEW, None)
        self.log_event(f"new key {secret.fingerprint} entered, {note}")
        self.notify(f"New key {secret.masked} ({secret.fingerprint}) {note}; probing it now.",
                    markup=False)
        self.redraw()

    def action_write_new(self) -> None:
        self.push_flow.start("new")

    def action_write_old(self) -> None:
        self.push_flow.start("old")

    def action_pause(self) -> None:
        if self.engine.paused:
            self.engine.resume()
        else:
            self.engine.pause()
        self.redraw()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_quit_dashboard(self) -> None:
        if self.engine.phase not in ASK_BEFORE_QUIT:
            self.app.exit(0)
            return
        self.app.push_screen(
            ConfirmationModal(
                f"Quit while {self.engine.phase}?",
                "The old key's revocation is not proven yet. keyturn stops watching; "
                "`keyturn revoke` or the dashboard can pick it up again later.",
                yes="Quit (y)", no="Stay (n)",
            ),
            lambda quit_now: self.app.exit(0) if quit_now else None,
        )
