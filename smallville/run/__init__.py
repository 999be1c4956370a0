"""The run machinery, above the simulation and the minds and below the views: assembling a run from its
settings (`assemble`), a save's life from new to resumed (`lifecycle`), the drive loop (`drive`), how a run
stops (`stop`), what a headless run shows (`progress`), the window's remote control (`control`) and the
figures the monitor reads (`status`).

The names most callers want are here: `new_run`, `resume_run`, `open_for_resume`, `drive`.
"""

from smallville.run.drive import drive
from smallville.run.lifecycle import new_run, open_for_resume, resume_run

__all__ = ["drive", "new_run", "open_for_resume", "resume_run"]
