"""``python -m qualevents``: the CLI."""

from qualevents.cli import main

main()
