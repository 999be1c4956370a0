"""What the window's benchmark prints: `smallville bench viewer --json` is JSON alone on stdout (pygame's
greeting, printed on its first import, used to come first and break any parser of it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("pygame")

# The command itself, with the benchmark's sizes made tiny (the replay of a routine morning, a few frames of
# each case, the live window from its first minute): the same imports, windows and prints, in seconds.
TINY_BENCH = """
import sys
import smallville.bench.viewer as bench
bench.SIZES[True] = bench.Sizes(save_hours=9, seeks=2, frames=3, live_frames=3, live_from_minutes=0)
from smallville.cli import main
sys.exit(main(["bench", "viewer", "--json", "--quick"]))
"""


def _env() -> dict[str, str]:
    # this test process has pygame quiet already (`smallville.viewer` turns the greeting off when imported):
    # the child must find out for itself
    return {k: v for k, v in os.environ.items() if k not in ("PYGAME_HIDE_SUPPORT_PROMPT", "SDL_VIDEODRIVER")}


def test_bench_viewer_json_is_all_that_is_on_stdout() -> None:
    done = subprocess.run([sys.executable, "-c", TINY_BENCH], capture_output=True, text=True, timeout=240,
                          env=_env())
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)  # the whole of it: nothing before the JSON, nothing after
    assert figures["frames"] == 9 and figures["frame_ms_p99_live"] > 0


def test_importing_the_window_prints_nothing() -> None:
    """Any way into the window imports pygame after `smallville.viewer`, which turns its greeting off."""
    for module in ("smallville.viewer.app", "smallville.viewer.hud", "smallville.viewer.chat"):
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                              timeout=60, env=_env())
        assert done.returncode == 0 and done.stdout == "", (module, done.stdout, done.stderr)
