"""Helpers for the dashboard hardening tests: what the terminal and a screenshot show,
which colours they use, a demo whose keys are the canaries, and probes held in flight.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.support_app import INTERVAL, STREAK, frame
from tests.support_canary import CANARY_ADMIN, CANARY_NEW, CANARY_OLD
from tui.engine.demo import build_demo
from tui.engine.scheduler import FakeClock

# -- what is on screen ---------------------------------------------------------------


def _full_update(app):
    # What the driver writes for a full redraw: the screen, and any screen under a modal.
    frame(app)
    return app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)


def screen_text(app) -> str:
    """The characters on screen, one line per row (what a user reads)."""
    update = _full_update(app)
    return "\n".join("".join(seg.text for strip in line for seg in strip) for line in update.strips)


def terminal_output(app) -> str:
    """The escape sequences a terminal receives to draw the whole screen."""
    return _full_update(app).render_segments(app.console)


SGR = re.compile(r"\x1b\[([0-9;]*)m")
#: The 16 standard colours that are greys: black, white, bright black, bright white.
GREY_FG, GREY_BG = {30, 37, 90, 97}, {40, 47, 100, 107}
HUED_FG, HUED_BG = set(range(31, 37)) | set(range(91, 97)), set(range(41, 47)) | set(range(101, 107))


def _grey_256(n: int) -> bool:
    return n in (0, 7, 8, 15, 16, 231) or n >= 232


def hues_in_terminal(raw: str) -> set[str]:
    """Every colour with a hue in the output's SGR codes (greys and defaults do not count)."""
    hues: set[str] = set()
    for match in SGR.finditer(raw):
        params = [int(p) for p in match.group(1).split(";") if p]
        i = 0
        while i < len(params):
            p = params[i]
            if p in (38, 48) and i + 1 < len(params):
                if params[i + 1] == 2 and i + 4 < len(params):
                    r, g, b = params[i + 2 : i + 5]
                    if not r == g == b:
                        hues.add(f"{p};2;{r};{g};{b}")
                    i += 5
                    continue
                if params[i + 1] == 5 and i + 2 < len(params):
                    if not _grey_256(params[i + 2]):
                        hues.add(f"{p};5;{params[i + 2]}")
                    i += 3
                    continue
            if p in HUED_FG or p in HUED_BG:
                hues.add(str(p))
            i += 1
    return hues


CIRCLE = re.compile(r"<circle[^>]*/>")
HEX = re.compile(r"#([0-9a-fA-F]{6})\b")
#: Rich's SVG theme draws unstyled text in #c5c8c6, a grey with a 3-step tint.
SVG_TINT = 8


def hues_in_svg(svg: str) -> set[str]:
    """Colours with a hue in an SVG screenshot, leaving out the window's three traffic lights."""
    hues = set()
    for match in HEX.finditer(CIRCLE.sub("", svg)):
        r, g, b = (int(match.group(1)[i : i + 2], 16) for i in (0, 2, 4))
        if max(r, g, b) - min(r, g, b) > SVG_TINT:
            hues.add("#" + match.group(1).lower())
    return hues


def save_shot(app, folder: Path, name: str) -> str:
    """Save the screen as a user would (an SVG file) and return its text."""
    folder.mkdir(parents=True, exist_ok=True)
    frame(app)
    path = app.save_screenshot(filename=f"{name}.svg", path=str(folder))
    return Path(path).read_text(encoding="utf-8")


# -- a demo whose keys are the canaries ---------------------------------------------------


def canary_demo(clock: FakeClock, *, admin: bool = True, breaks_after_revoke: bool = False,
                staged: bool = False):
    """The demo on the FakeClock with CANARY_OLD/NEW/ADMIN as its keys.

    `staged`: the demo's staged rollout, samples and bound (as users see it); otherwise
    the quick switch-over of the dashboard tests (support_app.fixed_demo)."""
    options: dict = {} if staged else {"rollout": None, "samples": 1, "max_old_share": 1.0}
    return build_demo(clock=clock.now, latency=(0, 0), interval=INTERVAL, timeout=0.4,
                      streak=STREAK, admin=admin, breaks_after_revoke=breaks_after_revoke,
                      **options,
                      keys=(CANARY_OLD, CANARY_NEW, CANARY_ADMIN),
                      key_sources=("env:KT_OLD", "env:KT_NEW", "env:KT_ADMIN"))


# -- probes held in flight -----------------------------------------------------------------


class HeldProbes:
    """Wraps a provider's probe so every probe waits (in flight) until `release()`."""

    def __init__(self, provider) -> None:
        self.provider = provider
        self.real = provider.probe
        self.gate = asyncio.Event()
        self.gate.set()
        self.in_flight = 0
        provider.probe = self.probe  # the engine looks the method up at each probe

    async def probe(self, client, key, timeout):
        self.in_flight += 1
        try:
            await self.gate.wait()
            return await self.real(client, key, timeout)
        finally:
            self.in_flight -= 1

    def hold(self) -> None:
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()
