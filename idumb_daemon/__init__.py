"""idumb-daemon: the persistence backend of the idumb IDE."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("idumb-daemon")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
