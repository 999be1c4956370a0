"""Named random streams derived from one seed.

Owns randomness for the core. Each consumer asks for a stream by name ("routine:Sam Moore",
"walk:Sam Moore"), so adding a stream or drawing more numbers in one never shifts another: runs stay
reproducible as the code grows. A stream is counter-based: draw n is a keyed hash (BLAKE2b) of
(seed, name, n). Its whole state is the counter, so a checkpoint holds one integer per stream
instead of a Mersenne Twister's 625 words, and the numbers are the same on every platform and
Python version. Draws happen at decisions, not per tick, so the ~1 us a draw costs does not matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import blake2b
from typing import Any, TypeVar

T = TypeVar("T")
_TWO64 = 1 << 64


class Stream:
    """One named stream: the subset of `random.Random` the simulation uses."""

    __slots__ = ("_key", "draws")

    def __init__(self, seed: int, name: str, draws: int = 0):
        self._key = blake2b(f"{seed}\x00{name}".encode(), digest_size=32).digest()
        self.draws = draws

    def _next64(self) -> int:
        digest = blake2b(self.draws.to_bytes(8, "little"), key=self._key, digest_size=8).digest()
        self.draws += 1
        return int.from_bytes(digest, "little")

    def random(self) -> float:
        """A float in [0, 1) with 53 random bits."""
        return (self._next64() >> 11) * (1.0 / (1 << 53))

    def randrange(self, n: int) -> int:
        """An integer in [0, n), without modulo bias."""
        if n <= 0:
            raise ValueError(f"randrange() needs n > 0, got {n}")
        limit = _TWO64 - _TWO64 % n
        while True:
            value = self._next64()
            if value < limit:
                return value % n

    def randint(self, a: int, b: int) -> int:
        """An integer in [a, b], both included."""
        return a + self.randrange(b - a + 1)

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.randrange(len(seq))]


class Streams:
    def __init__(self, seed: int):
        self.seed = seed
        self._streams: dict[str, Stream] = {}

    def get(self, name: str) -> Stream:
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = Stream(self.seed, name)
        return stream

    def state(self) -> dict[str, Any]:
        """JSON-safe state: the seed and each used stream's draw count."""
        return {"seed": self.seed, "draws": {name: self._streams[name].draws for name in sorted(self._streams)}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Streams:
        streams = cls(int(state["seed"]))
        for name, draws in state["draws"].items():
            streams._streams[name] = Stream(streams.seed, name, int(draws))
        return streams
