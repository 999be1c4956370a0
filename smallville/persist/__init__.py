"""What a run leaves on disk: the append-only event log (`eventlog`) and the save around it (`save`: the
manifest, checkpoints, memory vectors, the record of model calls and the writer lock).

Crash-safe by construction (a torn last line is cut back, a checkpoint names the log's and the record's
lengths) and depends on nothing above the settings: it reads and writes files, it never runs a tick.
"""
