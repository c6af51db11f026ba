"""The key bar: the screen's keys on one line, dimmed when they do nothing right now.

It stands where Textual's `Footer` would and reads the same `screen.active_bindings`,
so `check_action` decides what is dimmed or hidden exactly as it would for the Footer.
The difference is cost: the Footer composes empty, then mounts one widget per key a
frame later and again whenever the bindings change (a style pass over all of them).
This is one line of text drawn in the first frame and repainted in place, which took
the first full frame of `keyturn demo` and the per-probe redraws off that path
(tests/benchmarks: first frame and dashboard CPU).
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


class KeyBar(Widget):
    """Keys on the left, the command palette's key on the right; a key can be clicked."""

    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--disabled"}  # noqa: RUF012

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        & > .key-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .key-bar--description {
            color: $footer-description-foreground;
        }
        & > .key-bar--disabled {
            text-style: dim;
        }
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        #: (first cell, end cell, key) of each enabled key as last drawn: what a click hits.
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        words_style = self.get_component_rich_style("key-bar--description", partial=True)
        dim = self.get_component_rich_style("key-bar--disabled", partial=True)
        active = self.screen.active_bindings
        palette_key = self.app.COMMAND_PALETTE_BINDING if self.app.ENABLE_COMMAND_PALETTE else None
        left, right = Text(no_wrap=True, overflow="crop"), Text(no_wrap=True)
        seen: set[str] = set()
        left_spans: list[tuple[int, int, str]] = []
        right_spans: list[tuple[int, int, str]] = []
        for key, (_node, binding, enabled, _tooltip) in active.items():
            if key == palette_key:
                target, spans = right, right_spans
            elif not binding.show or binding.action in seen:
                continue
            else:
                target, spans = left, left_spans
            seen.add(binding.action)
            start = target.cell_len
            target.append(f" {self.app.get_key_display(binding)} ",
                          key_style if enabled else key_style + dim)
            target.append(f"{binding.description} ", words_style if enabled else words_style + dim)
            if enabled:
                spans.append((start, target.cell_len, key))
        gap = max(1, self.size.width - left.cell_len - right.cell_len)
        shift = left.cell_len + gap
        self._spans = left_spans + [(a + shift, b + shift, key) for a, b, key in right_spans]
        return Text.assemble(left, " " * gap, right, no_wrap=True, overflow="crop")

    def on_click(self, event: events.Click) -> None:
        """A click on a key presses it, as the Footer does; dimmed keys do nothing."""
        for start, end, key in self._spans:
            if start <= event.x < end:
                event.stop()
                self.app.simulate_key(key)
                return
