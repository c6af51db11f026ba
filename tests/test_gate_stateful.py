"""The gate as a state machine: random probe results, key changes, pauses, revoke
attempts and confirmations; after every step the admin API must have been called only
when the gate was open at that moment, never twice for one key, and never for a key
the deployment served within the last streak.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from providers.errors import AdminError
from tests.support_engine import make_rig
from tui.engine.credentials import Secret
from tui.engine.gate import Role
from tui.engine.rotation import GateLocked, Phase, RevokeRefused

STATUSES = [200, 200, 200, 401, 404, 429, 500, 529]


class GateMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.rig = make_rig(streak=3, switch_at=1.0, window=4.0)
        self.engine = self.rig.engine
        self.admin_calls: list[dict] = []
        provider = self.engine.provider
        original = provider.deactivate
        machine = self

        async def watched_deactivate(client, admin, key_id, timeout):
            dep = machine.engine.tracks.get(Role.DEPLOYMENT)
            machine.admin_calls.append({
                "gate_open": machine.engine.gate.open,
                "old": machine.engine.keys.old.fingerprint,
                "served": list(dep.served) if dep else [],
            })
            return await original(client, admin, key_id, timeout)

        provider.deactivate = watched_deactivate  # type: ignore[method-assign]
        self.run(self._start())

    async def _start(self) -> None:
        self.engine.start()

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.0, 3.0, 8.0]))
    def time_passes(self, seconds):
        self.run(self.rig.run(seconds))

    @rule(role=st.sampled_from(["old", "new"]), statuses=st.lists(st.sampled_from(STATUSES), min_size=1, max_size=4))
    def provider_answers(self, role, statuses):
        key = self.engine.keys.old if role == "old" else self.engine.keys.new
        if key is not None:
            self.rig.world.forced[key.fingerprint] = list(statuses)

    @precondition(lambda self: self.engine.phase in (Phase.WAITING, Phase.PROPAGATING, Phase.READY))
    @rule()
    def new_key_replaced(self):
        raw = self.rig.world.add_key().raw
        self.rig.world.new = raw  # the deployment moves to it too, over time

        async def replace():  # starts a probe task: needs the running loop
            self.engine.set_new_key(Secret(raw))

        self.run(replace())

    @rule()
    def pause_or_resume(self):
        (self.engine.resume if self.engine.paused else self.engine.pause)()

    @rule()
    def revoke_attempt(self):
        async def attempt():
            try:
                await self.engine.revoke()
            except (GateLocked, RevokeRefused, AdminError):
                pass

        self.run(attempt())

    @rule()
    def console_confirmation(self):
        try:
            self.engine.confirm_console()
        except RevokeRefused:
            pass

    @invariant()
    def admin_called_only_through_an_open_gate(self):
        olds = [c["old"] for c in self.admin_calls]
        assert len(olds) == len(set(olds)), "one key revoked twice"
        for call in self.admin_calls:
            assert call["gate_open"], "admin API called while the gate was shut"
            assert call["old"] not in call["served"], "revoked a key the deployment just served"

    def teardown(self) -> None:
        self.run(self.rig.close())
        self.loop.close()


GateMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestGateStateMachine = GateMachine.TestCase
