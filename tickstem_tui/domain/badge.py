"""Shields-style status badges as SVG: `cron | passing` (green), `failing` (red), `unknown` (grey)."""

from __future__ import annotations

from html import escape

COLOURS = {"passing": "#4c1", "failing": "#e05d44", "unknown": "#9f9f9f"}
LABEL = "cron"
CHAR_WIDTH = 7
"""Verdana 11px averages about 7px per character, enough to size the two boxes."""


def badge_message(cronsafe_status: str | None) -> str:
    """The badge word for a CronSafe monitor status (None: no such monitor)."""
    return {"up": "passing", "down": "failing"}.get(cronsafe_status or "", "unknown")


def render_badge(message: str) -> str:
    colour = COLOURS[message]
    left = len(LABEL) * CHAR_WIDTH + 10
    right = len(message) * CHAR_WIDTH + 10
    width = left + right
    label, text = escape(LABEL), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{label}: {text}">'
        f"<title>{label}: {text}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="15" fill="#010101" fill-opacity=".3">{label}</text>'
        f'<text x="{left / 2}" y="14">{label}</text>'
        f'<text x="{left + right / 2}" y="15" fill="#010101" fill-opacity=".3">{text}</text>'
        f'<text x="{left + right / 2}" y="14">{text}</text></g></svg>'
    )
