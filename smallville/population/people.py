"""The population file: who the people of a population are, one JSON line each.

Owns the file's format, shared by whatever makes a population (`smallville population generate`) and
whatever plays with one (the round games). JSON Lines, because a million people must be read and written
a line at a time: the first line is a header, each following line one person in id order.

    {"format": "smallville-population", "version": 1, "seed": 7, "source": "edu.json",
     "attributes": ["Gender", "Education"], "count": 1000}
    {"id": 0, "name": "Ada Brook", "attributes": {"Gender": "Female", "Education": "Doctorate"},
     "background": null}

`background` is the paragraph a model (or the template) wrote about the person, or null when none was
asked for. Ids run 0..count-1 with no gap, so a person's id is also their place in the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from smallville.errors import SmallvilleError

FORMAT = "smallville-population"
VERSION = 1


class PopulationError(SmallvilleError, ValueError):
    """A population file (or a population config) that cannot be read: the message is one line naming the
    file and the place. A `SmallvilleError`, so the CLI prints it in one line and exits 2; still a
    `ValueError` for callers that catch that."""


class Header(msgspec.Struct, forbid_unknown_fields=False):
    format: str
    version: int
    seed: int
    source: str
    attributes: list[str]
    count: int


class Person(msgspec.Struct, forbid_unknown_fields=False):
    id: int
    name: str
    attributes: dict[str, str]
    background: str | None = None


_encoder = msgspec.json.Encoder(order="deterministic")


def write_population(path: Path, header: Header, people: Iterable[Person]) -> None:
    """Write the file whole (to a temporary name, then renamed: a reader never sees half a population)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    written = 0
    with tmp.open("wb") as f:
        f.write(_encoder.encode(header) + b"\n")
        for person in people:
            if person.id != written:
                raise ValueError(f"person ids must run 0..n-1 in order; got {person.id} at line {written + 2}")
            f.write(_encoder.encode(person) + b"\n")
            written += 1
    if written != header.count:
        tmp.unlink()
        raise ValueError(f"header says {header.count} people, {written} written")
    tmp.replace(path)


def read_header(path: Path) -> Header:
    path = Path(path)
    try:
        with path.open("rb") as f:
            first = f.readline()
    except OSError as exc:
        raise PopulationError(f"{path}: cannot read the population file ({exc.strerror or exc})") from None
    try:
        header = msgspec.json.decode(first, type=Header)
    except msgspec.DecodeError as exc:
        raise PopulationError(f"{path}:1: not a population header ({exc})") from None
    if header.format != FORMAT:
        raise PopulationError(f"{path}:1: format is {header.format!r}, expected {FORMAT!r}")
    if header.version != VERSION:
        raise PopulationError(f"{path}:1: version {header.version} is not one this smallville reads ({VERSION})")
    return header


def iter_people(path: Path) -> Iterator[Person]:
    """The people in id order, checked line by line (a gap, a bad line or a short file is an error)."""
    path = Path(path)
    header = read_header(path)
    decoder = msgspec.json.Decoder(Person)
    count = 0
    with path.open("rb") as f:
        f.readline()
        for lineno, line in enumerate(f, start=2):
            if not line.strip():
                continue
            try:
                person = decoder.decode(line)
            except msgspec.DecodeError as exc:
                raise PopulationError(f"{path}:{lineno}: not a person ({exc})") from None
            if person.id != count:
                raise PopulationError(f"{path}:{lineno}: id {person.id}, expected {count}")
            unknown = set(person.attributes) - set(header.attributes)
            if unknown:
                raise PopulationError(f"{path}:{lineno}: attribute {sorted(unknown)[0]!r} is not in the header")
            count += 1
            yield person
    if count != header.count:
        raise PopulationError(f"{path}: header says {header.count} people, the file holds {count}")


def read_population(path: Path) -> tuple[Header, list[Person]]:
    return read_header(path), list(iter_people(path))
