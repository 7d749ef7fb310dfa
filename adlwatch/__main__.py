"""``python -m adlwatch …``: the same as the ``adlwatch`` command."""

from adlwatch.tui.cli import main

raise SystemExit(main())
