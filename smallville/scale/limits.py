"""The bounds the command line checks before anything heavier is imported (`smallville --help` stays quick)."""

from __future__ import annotations

MAX_WORKERS = 4096
