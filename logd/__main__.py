"""`python -m logd` is the `logd` command."""

from logd.cli import main

raise SystemExit(main())
