"""The project's own benchmark: `python -m idumb_daemon.bench --help`."""
