"""Object states: what each game object is doing ("idle", "being slept in", "brewing coffee").

Owns the mutable state of the town's objects, keyed by object address. Objects that were never touched
are "idle" and not stored, so checkpoints stay small.
"""

from __future__ import annotations

IDLE = "idle"


class ObjectStates:
    def __init__(self, states: dict[str, str] | None = None):
        self._states: dict[str, str] = dict(states or {})

    def get(self, address: str) -> str:
        return self._states.get(address, IDLE)

    def set(self, address: str, state: str) -> bool:
        """Set a state; returns whether it changed."""
        old = self.get(address)
        if state == old:
            return False
        if state == IDLE:
            del self._states[address]
        else:
            self._states[address] = state
        return True

    def items(self) -> list[tuple[str, str]]:
        return sorted(self._states.items())

    def state(self) -> dict[str, str]:
        return dict(sorted(self._states.items()))
