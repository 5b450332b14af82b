"""`python -m idumb_daemon.migrations`: the command line's schema and migrate
subcommands by themselves (declared in idumb_daemon.cli.schema)."""

from idumb_daemon.cli.schema import main

raise SystemExit(main())
