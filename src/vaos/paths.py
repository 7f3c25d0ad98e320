"""Where VAOS keeps its files (import-light: used before settings are loaded)."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """``$VAOS_HOME`` when set, else ``~/.vaos``."""
    return Path(os.environ.get("VAOS_HOME") or Path.home() / ".vaos").expanduser()


def config_file() -> Path:
    return default_home() / "config.toml"
