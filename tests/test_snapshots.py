"""Snapshot tests: each state of the dashboard, drawn from the demo on a FakeClock.

Update after a deliberate change with `pytest tests/test_snapshots.py --snapshot-update`
and look at the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest

from tests.support_app import SCENES, scene_app, stamp_latency
from tui.engine.scheduler import FakeClock


@pytest.mark.parametrize("scene", SCENES, ids=[s.name for s in SCENES])
def test_dashboard_snapshot(scene, snap_compare, monkeypatch):
    stamp_latency(monkeypatch, FakeClock())
    app, run_before = scene_app(scene)
    assert snap_compare(app, terminal_size=scene.size, run_before=run_before)


def test_snapshots_and_screenshots_show_no_key():
    """The images are made with fixed demo keys; no 12-character piece of one may appear."""
    from pathlib import Path

    from tests.support_app import ADMIN_KEY, NEW_KEY, OLD_KEY
    from tests.support_canary import assert_no_canary

    root = Path(__file__).resolve().parent.parent
    images = list((root / "tests" / "__snapshots__").rglob("*.svg"))
    images += list((root / "screenshots").glob("*.svg"))
    assert images, "no snapshot images found"
    assert_no_canary(paths=images, canaries=(OLD_KEY, NEW_KEY, ADMIN_KEY))
