"""Logging to a rotating file under the log directory; the terminal stays the UI's."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from tickstem_tui import paths


def configure(*, to_stderr: bool, level: int = logging.INFO, log_file: Path | None = None) -> Path:
    """Route every log record to the file (and, for headless runs, warnings to stderr)."""
    log_file = log_file or paths.log_dir() / "tickstem-tui.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    file_handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=5_000_000, backupCount=3)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    if to_stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.WARNING)
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(stream)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return log_file
