"""No display: the window is refused in one line naming --headless, before anything is made or changed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "smallville.cli"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    return env


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_run_without_a_display_names_headless_and_makes_no_save(tmp_path: Path) -> None:
    save = tmp_path / "save"
    done = subprocess.run([*CLI, "run", "--mind", "routine", "--hours", "1", "--save", str(save)],
                          capture_output=True, text=True, timeout=60, env=_env(), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--headless" in lines[0] and "display" in lines[0]
    assert not save.exists()


def test_resume_of_a_windowed_run_without_a_display_changes_nothing(tmp_path: Path) -> None:
    save = tmp_path / "save"
    subprocess.run([*CLI, "run", "--headless", "--mind", "routine", "--hours", "1", "--save", str(save),
                    "--no-progress"], check=True, capture_output=True, timeout=60, cwd=tmp_path)
    manifest = json.loads((save / "manifest.json").read_text())
    assert manifest["view"] == "headless"
    manifest["view"] = "window"  # as a run started in the window records it
    (save / "manifest.json").write_text(json.dumps(manifest))
    before = _digest(save)
    done = subprocess.run([*CLI, "resume", str(save), "--hours", "1"], capture_output=True, text=True, timeout=60,
                          env=_env(), cwd=tmp_path)
    assert done.returncode == 2 and "--headless" in done.stderr and "Traceback" not in done.stderr
    assert _digest(save) == before
    going_on = subprocess.run([*CLI, "resume", str(save), "--hours", "1", "--headless", "--no-progress"],
                              capture_output=True, text=True, timeout=60, env=_env(), cwd=tmp_path)
    assert going_on.returncode == 0, going_on.stderr
