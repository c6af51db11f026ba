"""Launcher for the first-frame figure: `keyturn demo`, noting when the first full frame is out.

Run inside a terminal (tmux) as `python tests/benchmarks/first_frame.py OUTFILE`. It is
`keyturn demo` (tui.cli.main) with one observer on Textual's `App._display`, the call
that writes a frame to the terminal: at the first frame that shows the dashboard with
its cards and the key bar laid out, it appends CLOCK_MONOTONIC (system-wide, so
the parent can subtract the moment it pressed Enter) to OUTFILE and quits the app.
Nothing in keyturn itself changes.
"""

import sys
import time

OUT = sys.argv[1]


def main() -> int:
    from textual.app import App

    from tui.cli import main as keyturn

    original = App._display

    def display(self, screen, renderable) -> None:
        original(self, screen, renderable)
        if renderable is None or getattr(self, "_bench_done", False):
            return
        names = {type(w).__name__ for w in screen.walk_children()}
        laid_out = [w for w in screen.query("KeyBar") if w.region.area]
        if type(screen).__name__ == "DashboardScreen" and "ProbeCard" in names and laid_out:
            self._bench_done = True
            with open(OUT, "a") as f:
                f.write(f"{time.monotonic()}\n")
            self.exit()

    App._display = display
    return keyturn(["demo"])


if __name__ == "__main__":
    sys.exit(main())
