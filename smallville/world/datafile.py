"""Town data files (TOML checked by a pydantic model): reading them and telling users what is wrong.

Owns the prologue every data file shares (file present, valid TOML, valid against its model) and the
wording of validation errors, which names list entries the way users know them ("resident 'Maria
Lopez': wake: ...") instead of by position ("residents.3.wake: ...").
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from smallville.errors import MapError

M = TypeVar("M", bound=BaseModel)


def describe_validation(error: ValidationError, doc: Any = None, items: str = "", label: str = "",
                        name_field: str = "name") -> str:
    """pydantic's errors as one line; entries of the list `doc[items]` are named by their `name_field`."""
    lines = []
    for err in error.errors():
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        if items and len(loc) >= 2 and loc[0] == items and isinstance(loc[1], int):
            try:
                name = doc[items][loc[1]].get(name_field, f"#{loc[1] + 1}")
            except (IndexError, AttributeError, KeyError, TypeError):
                name = f"#{loc[1] + 1}"
            where = f"{label} {name!r}: " + ".".join(str(p) for p in loc[2:])
        lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


def read_data_file(path: Path, model: type[M], what: str, items: str, label: str, name_field: str) -> M:
    """Read `path` as TOML and validate it with `model`. Raises `MapError` naming the file and the entry."""
    if not path.is_file():
        raise MapError(path, f"{what} file not found")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MapError(path, f"not valid TOML: {exc}") from None
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise MapError(path, describe_validation(exc, doc, items, label, name_field)) from None
