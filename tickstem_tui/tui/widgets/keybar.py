"""The bottom line of keys: one Static per screen, drawn once (Textual's Footer remounts a widget per key
every time the screen or focus changes, which cost a third of a screen switch with large tables)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.binding import Binding
from textual.content import Content
from textual.dom import DOMNode
from textual.widgets import Static

KEY_NAMES = {
    "slash": "/",
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "escape": "esc",
    "enter": "⏎",
    "pageup": "pgup",
    "pagedown": "pgdn",
}


def key_label(binding: Binding) -> str:
    return ", ".join(KEY_NAMES.get(key, key) for key in binding.key.split(","))


def declared_bindings(classes: Iterable[type[DOMNode]]) -> list[Binding]:
    """Bindings the given classes declare themselves (MRO order as given), first one per key wins."""
    seen: set[str] = set()
    found: list[Binding] = []
    for node_class in classes:
        for binding in Binding.make_bindings(node_class.__dict__.get("BINDINGS", [])):
            if binding.key not in seen:
                seen.add(binding.key)
                found.append(binding)
    return found


class KeyBar(Static):
    """Shown bindings of the screen (most specific first), the table's enter, then the app's; each is clickable."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
        link-style: none;
        link-background-hover: $footer-key-background;
    }
    """

    def __init__(self, *extra: type[DOMNode]) -> None:
        super().__init__(id="keys")
        self.extra = extra

    def on_mount(self) -> None:
        screen_classes = [cls for cls in type(self.screen).__mro__ if "BINDINGS" in cls.__dict__]
        app_classes = [cls for cls in type(self.app).__mro__ if "BINDINGS" in cls.__dict__]
        bindings = declared_bindings([*screen_classes, *self.extra, *app_classes])
        parts = [
            Content.from_markup(
                # Key names are identifiers (`r`, `slash`), safe inside the action's quotes.
                f"[@click=app.simulate_key('{binding.key.split(',')[0]}')][b $footer-key-foreground]$label[/] $what[/]",
                label=key_label(binding),
                what=binding.description,
            )
            for binding in bindings
            if binding.show and binding.description
        ]
        self.update(Content("  ").join([Content(" "), *parts]) + Content.from_markup("  [dim]ctrl+p palette[/]"))
