"""idumb-daemon: the persistence backend of the idumb IDE."""

# The one place the version is written: pyproject.toml reads it from here at
# build time. A literal, not importlib.metadata: that import and its search
# of the installed distributions cost a spawn some 40 ms.
__version__ = "0.1.0"
