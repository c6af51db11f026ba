"""Make screenshots/*.svg (and *.png) of the dashboard from the demo, in every state.

Run from the repository root:

    python -m tests.make_screenshots          # or: python tests/make_screenshots.py

The same scenes as the snapshot tests (tests/support_app.py): the demo's simulated
provider on a FakeClock, fixed demo keys and seeded latencies, so the images change only
when the dashboard does. PNGs need cairosvg (installed with the `test` extra).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python tests/make_screenshots.py` from the repo root
    sys.path.insert(0, str(ROOT))

import providers.transport
from tests.support_app import SCENES, Scene, SteppedTime, scene_app
from tui.engine.scheduler import FakeClock

OUT = ROOT / "screenshots"


def screenshot(scene: Scene) -> str:
    """The SVG of one scene, taken the way a user would see it."""
    app, run_before = scene_app(scene)

    async def auto_pilot(pilot) -> None:
        await run_before(pilot)
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        app.exit(app.export_screenshot(title=f"keyturn demo · {scene.name}"))

    real_time = providers.transport.time
    clock = FakeClock()
    providers.transport.time = type("SteppedTimeModule", (), {  # type: ignore[assignment]
        "perf_counter": staticmethod(SteppedTime(clock).perf_counter),
        "monotonic": staticmethod(clock.now),
    })
    try:
        svg = app.run(headless=True, size=scene.size, auto_pilot=auto_pilot)
    finally:
        providers.transport.time = real_time
    if not isinstance(svg, str):
        raise SystemExit(f"{scene.name}: the app ended without a screenshot (code {app.return_code})")
    return svg


def main() -> int:
    OUT.mkdir(exist_ok=True)
    try:
        import cairosvg
    except ImportError:
        cairosvg = None
        print("cairosvg not installed: writing SVG only", file=sys.stderr)
    for scene in SCENES:
        svg = screenshot(scene)
        path = OUT / f"{scene.name}.svg"
        path.write_text(svg, encoding="utf-8")
        made = [path.name]
        if cairosvg is not None:
            png = path.with_suffix(".png")
            # cairosvg does not fall back along "Fira Code, monospace" and would draw the
            # terminal in a proportional face; name the machine's monospace font instead.
            mono = svg.replace("Fira Code, monospace", "DejaVu Sans Mono, monospace")
            cairosvg.svg2png(bytestring=mono.encode("utf-8"), write_to=str(png))
            made.append(png.name)
        print(f"{scene.name:<12} {scene.size[0]}x{scene.size[1]}  " + "  ".join(made))
    return 0


if __name__ == "__main__":
    sys.exit(main())
