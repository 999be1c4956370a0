"""The monitor: a read-only web page of the runs, studies and games on this machine, and their servers.

A separate process that finds runs from their saves on disk (`files.py`, `readers.py`), shows each kind
with its own reader (`town.py`, `study.py`; games register theirs), and serves a JSON API, one
server-sent-events stream and a plain HTML page (`app.py`, `static/`). Live figures come from the
`status.json` a running run writes into its save once a second (`status.py`, the run's half). Started by
`smallville monitor` or `--monitor` beside a run (`command.py`). See docs/monitor.md.
"""

from smallville.monitor.command import add_monitor_command, add_monitor_flag, monitor_beside

__all__ = ["add_monitor_command", "add_monitor_flag", "monitor_beside"]
