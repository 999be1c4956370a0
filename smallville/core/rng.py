"""Named random streams derived from one seed.

Owns randomness for the core. Each consumer asks for a stream by name ("routine:Sam Moore",
"bench"), so adding a stream or drawing more numbers in one never shifts another: runs stay
reproducible as the code grows. Streams are `random.Random` (fast scalar draws) seeded from a hash of
(seed, name); their states are plain JSON-safe lists for checkpoints.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any


def _seed_int(seed: int, name: str) -> int:
    digest = hashlib.sha256(f"{seed}\x00{name}".encode()).digest()
    return int.from_bytes(digest[:16], "big")


class Streams:
    def __init__(self, seed: int):
        self.seed = seed
        self._streams: dict[str, random.Random] = {}

    def get(self, name: str) -> random.Random:
        stream = self._streams.get(name)
        if stream is None:
            stream = random.Random(_seed_int(self.seed, name))
            self._streams[name] = stream
        return stream

    def state(self) -> dict[str, Any]:
        """JSON-safe state of every stream used so far."""
        out: dict[str, Any] = {}
        for name in sorted(self._streams):
            version, internal, gauss = self._streams[name].getstate()
            out[name] = [version, list(internal), gauss]
        return {"seed": self.seed, "streams": out}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Streams:
        streams = cls(int(state["seed"]))
        for name, (version, internal, gauss) in state["streams"].items():
            rng = random.Random()
            rng.setstate((version, tuple(internal), gauss))
            streams._streams[name] = rng
        return streams
