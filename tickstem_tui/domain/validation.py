"""Small typed validators shared by every entity: each raises ValidationError with a readable reason."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

from tickstem_tui.domain.errors import ValidationError


def require_str(data: dict[str, Any], key: str, *, max_len: int = 255, allow_empty: bool = False) -> str:
    value = data.get(key)
    if value is None:
        raise ValidationError(f"{key} is required")
    return check_str(key, value, max_len=max_len, allow_empty=allow_empty)


def check_str(key: str, value: Any, *, max_len: int = 255, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be a string")
    text = value.strip()
    if not text and not allow_empty:
        raise ValidationError(f"{key} must not be empty")
    if len(text) > max_len:
        raise ValidationError(f"{key} must be at most {max_len} characters")
    return text


def check_int(key: str, value: Any, *, low: int, high: int) -> int:
    # bool is an int subclass in Python; JSON true is not a number.
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValidationError(f"{key} must be an integer")
    if not low <= value <= high:
        raise ValidationError(f"{key} must be between {low} and {high}")
    return int(value)


def check_http_url(key: str, value: Any) -> str:
    text = check_str(key, value, max_len=2048)
    problem = _url_problem(text)
    if problem is not None:
        raise ValidationError(f"{key} {problem}")
    return text


@functools.lru_cache(maxsize=4096)
def _url_problem(text: str) -> str | None:
    """What is wrong with an http(s) URL, or None. Cached: every deploy sends the same endpoints again."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    try:
        _ = parts.port
    except ValueError:
        return "has an invalid port"
    return None


def check_str_map(key: str, value: Any, *, max_items: int = 50) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValidationError(f"{key} must be an object of string values")
    if len(value) > max_items:
        raise ValidationError(f"{key} may have at most {max_items} entries")
    result: dict[str, str] = {}
    for name, item in value.items():
        bad_name = not name or any(c in name for c in ":\r\n ")
        if bad_name or not isinstance(item, str) or "\n" in item or "\r" in item:
            raise ValidationError(f"{key} must map header names to single-line string values")
        result[name] = item
    return result
