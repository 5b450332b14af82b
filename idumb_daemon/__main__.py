from idumb_daemon.cli import main

raise SystemExit(main())
