"""The map tools: the committed map is what the layout builds, bad layouts are refused by name,
and pygame really draws the map (dummy video driver)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import THE_VILLE

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ROOT / "tools" / "layout" / "the_ville.toml"


def _build(layout: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "build_map.py"), "--layout", str(layout),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)


def test_committed_map_is_what_the_layout_builds(tmp_path: Path) -> None:
    done = _build(LAYOUT, tmp_path / "the_ville.tmx")
    assert done.returncode == 0, done.stderr

    def body(path: Path) -> str:  # tileset paths are relative to where the file is written
        return re.sub(r'source="[^"]*/(\w+\.tsx)"', r'source="\1"', path.read_text(encoding="utf-8"))

    built, committed = body(tmp_path / "the_ville.tmx"), body(THE_VILLE)
    assert built.count(".tsx") == 2
    assert built == committed


def test_unknown_names_in_the_layout_are_refused_with_the_place(tmp_path: Path) -> None:
    text = LAYOUT.read_text(encoding="utf-8")
    cases = {
        "object": (text.replace('["bed", 1, 1], ["desk", 3, 1]', '["waterbed", 1, 1], ["desk", 3, 1]', 1),
                   "waterbed"),
        "arena": (text.replace('name = "Latoya Williams\'s room"', 'name = "Latoya Williams\'s attic"', 1),
                  "Latoya Williams's attic"),
    }
    for label, (broken, name) in cases.items():
        assert broken != text, label
        layout = tmp_path / f"{label}.toml"
        layout.write_text(broken, encoding="utf-8")
        out = tmp_path / f"{label}.tmx"
        done = _build(layout, out)
        assert done.returncode != 0, label
        assert str(layout) in done.stderr and name in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and not out.exists()


def test_pygame_renders_the_whole_map(tmp_path: Path) -> None:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "render_map.py"), str(THE_VILLE),
                           "--out-dir", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    from PIL import Image

    image = Image.open(tmp_path / "map.png").convert("RGB")
    assert image.size == (140 * 16, 100 * 16)
    colours = image.resize((70, 50)).getcolors(maxcolors=100_000)
    assert colours is not None and len(colours) > 200  # a drawn town, not a blank or single-colour canvas
