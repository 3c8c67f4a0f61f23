"""Lets `python -m mxguard` behave like the `mxguard` command."""

from mxguard.cli import main

raise SystemExit(main())
