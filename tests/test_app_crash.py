"""A crash anywhere in the dashboard shows a traceback without locals and without a key.

Textual's default crash report prints every frame's local variables; a Secret's raw
value sits in a local somewhere below a probe. The control case proves the test can
fail: with Textual's own handler, the canary does leak.
"""

from __future__ import annotations

import pytest
from textual.app import App

from tests.support_app import demo_app, fixed_demo, stamp_latency, step
from tests.support_canary import CANARY_NEW, CANARY_OLD, assert_no_canary, leaks
from tui.app import KeyturnApp
from tui.engine.scheduler import FakeClock
from tui.widgets.probe_card import ProbeCard


def explode(self, track, key, **kwargs):
    raw = key.reveal()
    raise RuntimeError(f"card failed while drawing {raw}")


async def crash_once(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    clock = FakeClock()
    stamp_latency(monkeypatch, clock)
    demo = fixed_demo(clock, old_key=CANARY_OLD, new_key=CANARY_NEW)
    app = demo_app(clock, demo)
    monkeypatch.setattr(ProbeCard, "show", explode)
    capsys.readouterr()
    with pytest.raises(RuntimeError):
        async with app.run_test(size=(120, 36)) as pilot:
            await step(pilot, clock, 1.0)
    captured = capsys.readouterr()
    return captured.out + captured.err


async def test_crash_report_has_no_locals_and_no_key(monkeypatch, capsys):
    output = await crash_once(monkeypatch, capsys)
    assert "Traceback" in output and "RuntimeError" in output  # the report is there
    assert "card failed while drawing" in output
    assert "track = " not in output and "kwargs = " not in output  # no locals panel
    assert_no_canary(output, canaries=(CANARY_OLD, CANARY_NEW))


async def test_control_textual_default_crash_report_would_leak(monkeypatch, capsys):
    monkeypatch.setattr(KeyturnApp, "_fatal_error", App._fatal_error)
    monkeypatch.setattr(KeyturnApp, "_handle_exception", App._handle_exception)
    output = await crash_once(monkeypatch, capsys)
    assert leaks(output, (CANARY_OLD, CANARY_NEW)), "the control should show the canary"
    assert "track = " in output  # and its locals panel
