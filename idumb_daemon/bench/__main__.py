from idumb_daemon.bench.cli import main

raise SystemExit(main())
