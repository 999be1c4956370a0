"""The simulation: a pure, deterministic tick loop over the town and its residents.

Owns the clock (`clock`), the named random streams (`rng`), the typed, versioned events a tick returns
(`events`), the tick itself (`sim.Simulation.step`) and the habits of residents without a model (`routine`).
It never reads the wall clock, opens a file or socket, or imports pygame; what it needs from outside (a
mind that decides what each resident does) is handed to it through the protocols in `mind` (`Mind`,
`ThinkingMind`, and `SimOps`: all a mind may read of the simulation and do to it).
"""
