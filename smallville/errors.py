"""The project's error hierarchy: what a user can be told, with where the problem lies.

Every error that reaches the command line is a `SmallvilleError`: the CLI prints its message (which
names the file, layer, line or config key) and exits with a non-zero status, without a traceback.
"""

from __future__ import annotations

from pathlib import Path


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


class SaveInUse(SaveError):
    """Another process is writing the save (it holds the save's lock). Names that process's pid."""

    def __init__(self, path: Path | str, pid: int | None, message: str):
        self.pid = pid
        super().__init__(path, message)
