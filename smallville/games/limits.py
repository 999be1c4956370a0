"""The names and bounds the command line checks before anything heavier is imported: the variants and the
largest game (`cli.py` imports this alone at start-up, so `smallville --help` stays quick)."""

from __future__ import annotations

VARIANTS: tuple[str, ...] = ("P1", "P2", "P3", "P4", "P5", "P6", "P7")
MAX_AGENTS = 10_000_000
