"""Where tickstem-tui keeps its data, logs and packaged assets."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "tickstem-tui"


def data_dir() -> Path:
    """The per-user data directory (created on demand)."""
    path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path() -> Path:
    return data_dir() / "tickstem.sqlite3"


def log_dir() -> Path:
    path = Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def static_site_dir() -> Path:
    """Status-page templates and assets: packaged copy when installed, the repo's folder in a checkout."""
    packaged = Path(__file__).parent / "static_site"
    if packaged.is_dir():
        return packaged
    return Path(__file__).parent.parent / "static_site"
