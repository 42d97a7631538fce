"""Entry point for `python -m tickstem_tui`."""

from tickstem_tui.cli import main

raise SystemExit(main())
