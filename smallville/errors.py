"""The project's error hierarchy: what a user can be told, with where the problem lies.

Every error that reaches the command line is a `SmallvilleError`: the CLI prints its message (which
names the file, layer, line or config key) and exits with a non-zero status, without a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError


class SmallvilleError(Exception):
    """Base class: a problem the user can act on."""


class MapError(SmallvilleError):
    """A town map or its data is malformed. Names the file, the layer and the place."""

    def __init__(self, path: Path | str, message: str, layer: str | None = None, place: str | None = None):
        self.path = str(path)
        self.layer = layer
        self.place = place
        where = self.path
        if layer:
            where += f", layer {layer!r}"
        if place:
            where += f", {place}"
        super().__init__(f"{where}: {message}")


class ConfigError(SmallvilleError):
    """A configuration value is invalid. Names the key."""


class SaveError(SmallvilleError):
    """A save cannot be read or continued. Names the file and, where it applies, the line."""

    def __init__(self, path: Path | str, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {message}")


def describe_validation(error: ValidationError, doc: Any, items: str, label: str, name_field: str) -> str:
    """pydantic's errors for a data file, with list entries named the way users know them.

    `doc[items][i]` is an entry whose `name_field` names it: an error at ("residents", 3, "wake") reads
    "resident 'Maria Lopez': wake: ..." rather than "residents.3.wake: ...".
    """
    lines = []
    for err in error.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == items and isinstance(loc[1], int):
            try:
                name = doc[items][loc[1]].get(name_field, f"#{loc[1] + 1}")
            except (IndexError, AttributeError, KeyError, TypeError):
                name = f"#{loc[1] + 1}"
            where = f"{label} {name!r}: " + ".".join(str(p) for p in loc[2:])
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)
