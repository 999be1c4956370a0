"""The town as data: the tile map (`tmx`, `town`: sectors > arenas > objects, collisions, spawn points),
paths across it (`paths`, `spatial`), the objects' states (`objects`), the residents' personas
(`residents`) and the seeded facts of a scenario (`scenario`). Read once when a run is assembled; nothing
here changes while the simulation runs.
"""
