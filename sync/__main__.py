"""Run the sync CLI: `python -m sync`."""

from sync.cli import main

raise SystemExit(main())
