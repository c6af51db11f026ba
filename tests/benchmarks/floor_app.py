"""The floor for the first-frame figure: the smallest Textual app with a Footer.

Run as `python tests/benchmarks/floor_app.py OUTFILE` in a terminal: it appends
CLOCK_MONOTONIC at its first frame with the footer's keys laid out, then quits.
keyturn cannot draw its first frame sooner than Textual itself can start.
"""

import sys
import time


def main() -> None:
    from textual.app import App
    from textual.widgets import Footer, Static

    class Floor(App[None]):
        BINDINGS = [("q", "quit", "Quit")]  # noqa: RUF012 (Textual reads it once)

        def compose(self):
            yield Static("OLD key  NEW key  DEPLOYMENT  REVOKE")
            yield Footer()

    original = App._display

    def display(self, screen, renderable) -> None:
        original(self, screen, renderable)
        if renderable is None or getattr(self, "_bench_done", False):
            return
        if [w for w in screen.query("FooterKey") if w.region.area]:
            self._bench_done = True
            with open(sys.argv[1], "a") as f:
                f.write(f"{time.monotonic()}\n")
            self.exit()

    App._display = display
    Floor().run()


if __name__ == "__main__":
    main()
