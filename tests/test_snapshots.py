"""Snapshot tests: each state of the dashboard, drawn from the demo on a FakeClock.

Update after a deliberate change with `pytest tests/test_snapshots.py --snapshot-update`
and look at the SVGs in tests/__snapshots__/ before committing them.
"""

from __future__ import annotations

import pytest

from tests.support_app import SCENES, scene_app, stamp_latency
from tui.scheduler import FakeClock


@pytest.mark.parametrize("scene", SCENES, ids=[s.name for s in SCENES])
def test_dashboard_snapshot(scene, snap_compare, monkeypatch):
    stamp_latency(monkeypatch, FakeClock())
    app, run_before = scene_app(scene)
    assert snap_compare(app, terminal_size=scene.size, run_before=run_before)
