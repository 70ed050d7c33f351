"""Run the sync CLI: `python -m fieldobs_sync`."""

from fieldobs_sync.cli import main

raise SystemExit(main())
