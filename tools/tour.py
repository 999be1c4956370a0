"""A scripted tour of the window over a saved run, writing the screenshots the README shows.

    .venv/bin/python tools/tour.py SAVE_DIR [--out docs/screenshots] [--no-chat]

Drives the replay window with SDL's dummy video driver (no display needed): the town at midday where most
residents are up and about, a close view of a conversation with its speech bubbles, the inspector on the
party's host at 6 pm (the resident with the most reflections if the save has no such scenario), an
interview with that resident as of that moment (asked of the run's configured model, or the embedded
one; `--no-chat` skips it), and the help overlay. Prints each file written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smallville.viewer.app import headless  # noqa: E402

headless()

import pygame  # noqa: E402

from smallville.core.events import Remember, Say  # noqa: E402
from smallville.viewer.app import Viewer  # noqa: E402
from smallville.viewer.sources import ReplaySource  # noqa: E402


def key(k: int) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="", scancode=0)


def shot(viewer: Viewer, out: Path, name: str) -> None:
    viewer.frame([], 0.016)
    path = out / f"{name}.png"
    pygame.image.save(viewer.screen, str(path))
    print(path)


def centre_on(viewer: Viewer, who: str) -> None:
    x, y = viewer.scene.figures[who].point(viewer.at)
    viewer.camera.look_at((x + 0.5) * 16, (y + 0.5) * 16)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("save")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--no-chat", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = ReplaySource.open(Path(args.save))
    events = source.timeline.events
    noon = source.first + source.clock.ticks(12 * 60)
    viewer = Viewer(source, start=min(noon, source.last))

    viewer.camera.zoom_index = 1
    up = [f.point(viewer.at) for f in viewer.scene.figures.values() if f.action and f.action != "sleeping"]
    if up:  # where the town is awake: the middle of the residents not in bed
        viewer.camera.look_at(sum(x for x, _ in up) / len(up) * 16, sum(y for _, y in up) / len(up) * 16)
    viewer.camera.clamp()
    shot(viewer, out, "overview")

    # A conversation in the afternoon if there is one (else the first), seen close with its bubbles.
    says = [e for e in events if isinstance(e, Say)]
    if says:
        later = [e for e in says if e.t >= noon] or says
        line = later[0]
        viewer.go_to(line.t + 1)
        viewer.camera.zoom_index = 5
        centre_on(viewer, line.who)
        shot(viewer, out, "conversation")

    # The party's host (whose news the chat asks about) at 6 pm, else the resident with the most reflections.
    reflections: dict[str, list[Remember]] = {}
    for e in events:
        if isinstance(e, Remember) and e.tag == "reflection":
            reflections.setdefault(e.who, []).append(e)
    host = "Isabella Rodriguez"
    who = host if host in source.names else \
        max(reflections, key=lambda n: len(reflections[n])) if reflections else source.names[0]
    moment = min(source.first + source.clock.ticks(18 * 60), source.last)
    viewer.go_to(moment)
    viewer.select(who)
    viewer.camera.zoom_index = 4
    centre_on(viewer, who)
    shot(viewer, out, "inspector")

    if not args.no_chat:
        viewer.frame([key(pygame.K_RETURN)], 0.016)
        for question in ("Do you know who is running for mayor?", "Did you know there is a Valentine's Day party?"):
            viewer.frame([pygame.event.Event(pygame.TEXTINPUT, text=question), key(pygame.K_RETURN)], 0.016)
        deadline = time.monotonic() + 300
        while viewer.chat.busy() and time.monotonic() < deadline:
            viewer.frame([], 0.016)
            time.sleep(0.1)
        viewer.frame([pygame.event.Event(pygame.TEXTINPUT, text="And what will you do tonight?")], 0.016)
        shot(viewer, out, "chat")
        viewer.frame([key(pygame.K_ESCAPE)], 0.016)

    viewer.select(None)
    viewer.camera.zoom_index = 2
    viewer.camera.clamp()
    viewer.go_to(source.first + (source.last - source.first) * 3 // 4)
    viewer.frame([key(pygame.K_h)], 0.016)
    shot(viewer, out, "replay-help")
    viewer.close()
    pygame.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
