"""Servers gone wrong, over real loopback HTTP: answers too large, endpoints that never answer (and the run's
health watch that must notice), a key in the base URL, and the embedded server's timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import tracemalloc
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from inference_kit import CHAT, KEY_ENV, SECRET, Plan, opts, run, servers, settings_for

from smallville.config import current_inference, settings_from_manifest
from smallville.inference.base import (
    AnswerInvalid,
    AuthenticationFailed,
    CallOptions,
    EndpointUnavailable,
    InferenceError,
    Message,
    ModelNotFound,
    ModelsUnusable,
    ResponseTooLarge,
)
from smallville.inference.local import free_port
from smallville.inference.pool import ServerPool
from smallville.inference.session import Models, open_models
from smallville.inference.settings import EndpointSettings, InferenceSettings
from smallville.testing.fake_server import FakeServer, FakeServerProcess


class _Vectors:
    """An embedder that is never asked anything here (the local model would load torch for nothing)."""

    dim = 4

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.zeros((len(texts), self.dim), np.float32)


class _Answers:
    """A model of the caller's own (as tests and benchmarks hand in): it counts nothing itself."""

    async def complete_model(self, messages: Sequence[Message], answer: type[Any], options: CallOptions) -> Any:
        return answer.model_validate({"summary": "s", "steps": [{"minutes": 5, "action": "a", "place": "cafe"}]})

    async def complete_text(self, messages: Sequence[Message], options: CallOptions) -> str:
        return "fine"


async def _fail_calls(models: Models, n: int) -> list[InferenceError]:
    errors = []
    for _ in range(n):
        with pytest.raises(InferenceError) as caught:
            await models.lm.complete_text(CHAT, opts("talk", max_tokens=32))
        errors.append(caught.value)
    return errors


# -- A: answers too large -----------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["huge:10", "huge_chunked:10"])
def test_a_10_mb_answer_fails_fast_as_too_large_with_memory_bounded(spec):
    """With or without a Content-Length, reading stops at max_response_bytes: the error says what happened
    (not 'connection lost (CancelledError)'), nothing near 10 MB is ever held, and the breaker counts it."""
    with FakeServerProcess() as srv:
        srv.set_default(spec)
        settings = settings_for(srv, retries=2, breaker_failures=3)  # type: ignore[arg-type]

        async def go() -> ResponseTooLarge:
            async with ServerPool(settings) as pool:
                with pytest.raises(ResponseTooLarge) as caught:
                    await pool.complete_text(CHAT, opts("talk"))
                assert pool.accounting.snapshot()["by_endpoint"]["a"]["error_kinds"] == {"too_large": 3}
                assert pool.status()[0]["in_rotation"] is False  # three in a row: out
                return caught.value

        tracemalloc.start()
        started = time.monotonic()
        try:
            error = run(go())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert time.monotonic() - started < 10
    assert peak < 6 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB while refusing a 10 MB answer"
    message = str(error)
    assert message.startswith("[a] ") and "1,048,576 bytes" in message and srv.base_url in message
    assert "CancelledError" not in message and "connection lost" not in message


def test_a_text_longer_than_max_tokens_allows_is_cut_and_never_recorded_whole(tmp_path):
    """Under the byte limit but far over max_tokens (a server ignoring it): a text comes back cut, a
    structured answer is re-asked then given up, and the recording stays small."""
    with servers(1) as (srv,):
        srv.set_default("huge:0.5")

        async def go() -> str:
            async with open_models(settings_for(srv, answer_retries=1), tmp_path, embedder=_Vectors()) as models:
                text = await models.lm.complete_text(CHAT, opts("talk", max_tokens=64))
                with pytest.raises(AnswerInvalid) as caught:
                    await models.lm.complete_model(CHAT, Plan, opts("plan", max_tokens=64))
                assert len(caught.value.last_answer) <= 16 * 128  # the re-ask had twice the room
                return text

        text = run(go())
    assert 0 < len(text) <= 1024
    assert (tmp_path / "calls.jsonl").stat().st_size < 50_000


def test_a_max_response_bytes_is_validated():
    with pytest.raises(ValueError, match="max_response_bytes"):
        InferenceSettings(max_response_bytes=10)


# -- B: a run that cannot think -----------------------------------------------------------------------


def _dead_endpoint(kind: str, srv: FakeServer) -> InferenceSettings:
    if kind == "refused":
        return InferenceSettings(endpoints=[EndpointSettings(name="a", base_url=f"http://127.0.0.1:{free_port()}/v1",
                                                             model="fake-model")], retries=1, backoff_s=0.01,
                                 backoff_max_s=0.02)
    srv.set_default({"hang": "hang", "500": "500", "garbage body": "non_json"}[kind])
    return settings_for(srv, retries=1, timeout_s=0.3)


@pytest.mark.parametrize("kind", ["refused", "hang", "500", "garbage body"])
def test_b_every_first_call_failing_makes_the_run_fatal_naming_the_endpoint(kind, tmp_path):
    with servers(1) as (srv,):
        settings = _dead_endpoint(kind, srv)

        async def go() -> None:
            async with open_models(settings, tmp_path, embedder=_Vectors()) as models:
                await _fail_calls(models, 7)
                assert models.fatal() is None  # not yet: the first 8 decide
                await _fail_calls(models, 1)
                fatal = models.fatal()
                assert isinstance(fatal, ModelsUnusable) and fatal.endpoint == "a"
                assert str(fatal).startswith("[a] the first 8 model calls all failed")
                assert "\n" not in str(fatal)
                totals = models.accounting.totals()
                assert (totals.calls, totals.ok, totals.failed) == (8, 0, 8)
                assert totals.retries >= 1 and totals.line().startswith("8 model calls (0 ok, 8 failed, ")

        run(go())


@pytest.mark.parametrize("fault", ["model", "key"])
def test_b_a_configuration_error_is_fatal_at_once(fault, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with servers(1, api_key="sk-the-right-one-000000" if fault == "key" else None) as (srv,):
        settings = settings_for(srv, api_key_env=KEY_ENV, model="no-such-model" if fault == "model" else "fake-model")

        async def go() -> InferenceError | None:
            async with open_models(settings, tmp_path, embedder=_Vectors()) as models:
                await _fail_calls(models, 1)
                return models.fatal()

        fatal = run(go())
    assert isinstance(fatal, ModelNotFound if fault == "model" else AuthenticationFailed)
    assert str(fatal).startswith("[a] ") and SECRET not in str(fatal)
    if fault == "model":
        assert "'no-such-model'" in str(fatal) and srv.base_url in str(fatal)


def test_b_a_weak_model_that_fails_now_and_then_is_not_fatal(tmp_path):
    with servers(1) as (srv,):
        # answers that fit no schema, three in every four: a weak model, not a dead one
        srv.script(*(["ok", "garbage", "garbage", "garbage"] * 5))

        async def go() -> None:
            async with open_models(settings_for(srv, answer_retries=0), tmp_path, embedder=_Vectors()) as models:
                for i in range(20):
                    if i % 4 == 0:
                        await models.lm.complete_model(CHAT, Plan, opts())
                    else:
                        with pytest.raises(AnswerInvalid):
                            await models.lm.complete_model(CHAT, Plan, opts())
                assert models.fatal() is None and models.fatal(at_end=True) is None

        run(go())


def test_b_a_server_that_dies_mid_run_is_told_not_fatal(tmp_path, caplog):
    """A server that answered and then goes away (a restart) leaves the residents on defaults until it is back,
    loudly: a study of days should survive it. A resume into a dead server stops (the first-calls rule)."""
    with servers(1) as (srv,):
        async def go() -> None:
            async with open_models(settings_for(srv, retries=1, backoff_s=0.01, backoff_max_s=0.02), tmp_path,
                                   embedder=_Vectors()) as models:
                for _ in range(5):
                    await models.lm.complete_model(CHAT, Plan, opts())
                srv.set_default("500")
                await _fail_calls(models, 9)
                assert models.fatal() is None
                srv.set_default("ok")
                for _ in range(50):  # the breaker probes the server back in after its cooldown
                    await asyncio.sleep(0.2)
                    with contextlib.suppress(InferenceError):
                        await models.lm.complete_model(CHAT, Plan, opts())
                        break

        with caplog.at_level(logging.WARNING, logger="smallville.inference"):
            run(go())
    assert "8 model calls in a row failed" in caplog.text and "think on defaults" in caplog.text
    assert re.search(r"answer again after \d+ failures in a row", caplog.text)


def test_b_a_short_run_whose_every_call_failed_is_fatal_at_its_end(tmp_path):
    with servers(1) as (srv,):
        srv.set_default("500")

        async def go() -> None:
            async with open_models(settings_for(srv, retries=0), tmp_path, embedder=_Vectors()) as models:
                await _fail_calls(models, 3)
                assert models.fatal() is None  # too few to judge while the run goes on
                assert "all 3 model and embedding calls failed" in str(models.fatal(at_end=True))

        run(go())


def test_b_embeddings_failing_in_a_row_are_fatal_too(tmp_path):
    from smallville.inference.embed import RemoteEmbedder

    with servers(1) as (srv,):
        srv.set_default("500")
        embedder = RemoteEmbedder(srv.base_url, "fake-model", dim=8, name="vectors", max_retries=0)

        async def go() -> None:
            async with open_models(settings_for(srv), tmp_path, lm=_Answers(), embedder=embedder) as models:
                for _ in range(8):
                    with pytest.raises(InferenceError):
                        await models.embedder.embed(["a kite"])
                fatal = models.fatal()
                assert fatal is not None and "the first 8 embedding calls all failed" in str(fatal)
                assert fatal.endpoint == "vectors"

        run(go())


def test_b_a_server_whose_every_answer_is_unusable_is_fatal(tmp_path):
    with servers(1) as (srv,):
        srv.set_default("garbage")  # 200s whose text is never JSON: nothing to think with

        async def go() -> None:
            async with open_models(settings_for(srv, answer_retries=0), tmp_path, embedder=_Vectors()) as models:
                for _ in range(8):
                    with pytest.raises(AnswerInvalid):
                        await models.lm.complete_model(CHAT, Plan, opts())
                assert models.fatal() is not None and "the first 8 model calls all failed" in str(models.fatal())

        run(go())


def test_b_the_watch_sees_replayed_calls_and_the_accounting_counts_them(tmp_path):
    with servers(1) as (srv,):
        async def record() -> None:
            settings = settings_for(srv, model="no-such-model")
            async with open_models(settings, tmp_path / "run", embedder=_Vectors()) as models:
                await _fail_calls(models, 1)

        run(record())

    async def replay() -> None:
        async with open_models(InferenceSettings(), replay=tmp_path / "run" / "calls.jsonl",
                               embedder=_Vectors()) as models:
            await _fail_calls(models, 1)
            assert isinstance(models.fatal(), ModelNotFound)
            assert models.accounting.totals().calls == 1

    run(replay())


def test_b_the_accounting_counts_the_calls_of_a_model_handed_in(tmp_path):
    """The run summary's counts must be the accounting's: they were 0 whatever a caller's model answered."""
    async def go() -> None:
        async with open_models(InferenceSettings(), tmp_path, lm=_Answers(), embedder=_Vectors()) as models:
            await models.lm.complete_text(CHAT, opts("talk"))
            await models.lm.complete_model(CHAT, Plan, opts())
            totals = models.accounting.totals()
            assert (totals.calls, totals.ok, totals.failed, totals.tokens) == (2, 2, 0, 0)
            assert models.fatal() is None

    run(go())
    saved = json.loads((tmp_path / "inference.json").read_text())["sessions"][-1]["totals"]
    assert saved["calls"] == 2


# -- C: a key in the base URL -------------------------------------------------------------------------


def test_c_a_key_in_the_url_query_is_sent_and_never_shown(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    for noisy in ("httpx", "httpx2", "openai"):  # an in-process CLI run elsewhere may have quietened these
        caplog.set_level(logging.DEBUG, logger=noisy)
    texts: list[str] = []
    with servers(1) as (srv,):
        url = f"{srv.base_url}?api-key={SECRET}"
        settings = InferenceSettings(endpoints=[EndpointSettings(name="proxy", base_url=url, model="fake-model")],
                                     retries=1, backoff_s=0.01, backoff_max_s=0.02)

        async def go() -> None:
            async with open_models(settings, tmp_path, embedder=_Vectors()) as models:
                plan = await models.lm.complete_model(CHAT, Plan, opts())
                assert plan.steps
                srv.set_default("500")
                errors = await _fail_calls(models, 1)
                texts.extend(f"{e!s} {e!r}" for e in errors)
                texts.append(repr(models.lm) + models.description)

        run(go())
        stats = srv.stats()
    assert stats["paths"].get("/v1/chat/completions", 0) >= 2
    assert f"api-key={SECRET}" in stats["recent_queries"]  # the server got the key, as the proxy wants it
    assert "HTTP Request" in caplog.text and "api-key=***" in caplog.text
    texts += [caplog.text] + [p.read_text() for p in tmp_path.iterdir() if p.is_file()]
    for text in texts:
        assert SECRET not in text and "SMALLVILLE-SECRET" not in text


def test_c_a_run_goes_on_with_the_current_config_never_the_saved_masked_url(tmp_path, monkeypatch):
    from smallville.config import load_settings
    from smallville.run.assemble import manifest_settings

    with servers(1) as (srv,):
        config = tmp_path / "smallville.toml"
        config.write_text(f'[[inference.endpoints]]\nname = "proxy"\nbase_url = "{srv.base_url}?api-key={SECRET}"\n'
                          f'model = "fake-model"\n', encoding="utf-8")
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        monkeypatch.delenv("SMALLVILLE_MODEL", raising=False)
        saved = json.loads(json.dumps(manifest_settings(load_settings(config))))
        assert SECRET not in json.dumps(saved)
        masked = settings_from_manifest(saved, tmp_path / "manifest.json")
        with pytest.raises(InferenceError, match="masked") as refused:
            ServerPool(masked.inference)
        assert "\n" not in str(refused.value) and str(refused.value).startswith("[proxy] ")
        resumed = settings_from_manifest(saved, tmp_path / "manifest.json", inference=current_inference(config))
        assert resumed.sim == masked.sim and resumed.agents == masked.agents

        async def go() -> str:
            async with ServerPool(resumed.inference) as pool:
                return await pool.complete_text(CHAT, opts())

        assert run(go())
        assert f"api-key={SECRET}" in srv.stats()["recent_queries"]


def test_c_an_embedding_server_with_its_key_in_the_url_gets_it(tmp_path):
    from smallville.inference.embed import RemoteEmbedder

    with servers(1) as (srv,):
        embedder = RemoteEmbedder(f"{srv.base_url}?api-key={SECRET}", "fake-model", dim=8, name="vectors")

        async def go() -> None:
            vectors = await embedder.embed(["a kite festival", "a party"])
            assert vectors.shape == (2, 8)
            await embedder.aclose()

        run(go())
        assert f"api-key={SECRET}" in srv.stats()["recent_queries"]
    with pytest.raises(InferenceError, match="masked"):
        RemoteEmbedder(f"{srv.base_url}?api-key=***", "fake-model", dim=8)


# -- D: the embedded server's timeouts ------------------------------------------------------------------


def test_d_the_timeout_grows_with_the_tokens_asked():
    endpoint = EndpointSettings(name="e", base_url="http://127.0.0.1:1/v1", model="m", timeout_s=90,
                                timeout_per_token_s=0.5)
    assert endpoint.timeout_for(400) == 290 and endpoint.timeout_for(0) == 90
    with servers(1) as (srv,):
        srv.set_default("slow:0.8")
        settings = settings_for(srv, timeout_s=0.3, retries=0)
        settings.endpoints[0] = settings.endpoints[0].model_copy(update={"timeout_per_token_s": 0.005})

        async def go() -> None:
            async with ServerPool(settings) as pool:
                with pytest.raises(EndpointUnavailable, match=r"no answer within 0\.4 s"):
                    await pool.complete_text(CHAT, opts("talk", max_tokens=20))  # 0.3 + 20 x 0.005
                assert await pool.complete_text(CHAT, opts("plan", max_tokens=200))  # 1.3 s: time enough

        run(go())


def test_d_the_embedded_endpoint_gets_a_timeout_that_scales(monkeypatch):
    from smallville.inference import local

    with servers(1, models=(local.MODEL_ALIAS,)) as (srv,):
        class Embedded:
            base_url, model, port = srv.base_url, local.MODEL_ALIAS, 0

            def __init__(self, **kw: object) -> None:
                pass

            def __enter__(self) -> Embedded:
                return self

            def __exit__(self, *exc: object) -> None:
                pass

        monkeypatch.setattr(local, "EmbeddedServer", Embedded)

        async def go() -> EndpointSettings:
            async with open_models(InferenceSettings(), embedder=_Vectors()) as models:
                await models.lm.complete_text(CHAT, opts())
                return models.lm.inner.settings.endpoints[0]  # type: ignore[attr-defined]

        endpoint = run(go())
    assert endpoint.max_concurrency == 1 and endpoint.timeout_per_token_s > 0
    assert endpoint.timeout_for(400) >= 240 and endpoint.timeout_for(32) < endpoint.timeout_for(400)


def test_d_a_timeout_at_a_single_slot_server_starts_no_duplicate_generation():
    """Like llama-cpp-python's server, the fake goes on generating for a client that has gone. The call that
    timed out is not retried, and the next one is sent only once that generation is over: it then gets its
    whole timeout, instead of running out while queued behind a ghost."""
    with servers(1, single_slot=True) as (srv,):
        srv.script("slow:1.2", "slow:0.3")
        settings = settings_for(srv, timeout_s=0.6, max_concurrency=1, retries=3)

        async def go() -> tuple[BaseException | str, BaseException | str, float]:
            async with ServerPool(settings) as pool:
                started = time.monotonic()
                first = asyncio.create_task(pool.complete_text(CHAT, opts("talk")))
                await asyncio.sleep(0.05)  # the first takes the slot
                second = asyncio.create_task(pool.complete_text(CHAT, opts("talk")))
                done = await asyncio.gather(first, second, return_exceptions=True)
                wall = time.monotonic() - started
                srv.script("drop")  # a connection lost is no timeout: retried there as anywhere
                assert await pool.complete_text(CHAT, opts("talk"))
                return done[0], done[1], wall

        first, second, wall = run(go())
        stats = srv.stats()
    assert isinstance(first, EndpointUnavailable) and "no answer within 0.6 s" in str(first)
    assert second == "A fake answer to 2 message(s)."
    assert stats["paths"]["/v1/chat/completions"] == 2 + 2  # no retry of the first; the dropped one's retry
    assert stats["outcomes"].get("gone", 0) == 0
    assert 1.4 < wall < 5


def test_c_resume_never_switches_silently_to_the_embedded_model(tmp_path, monkeypatch):
    from smallville.config import inference_for_save, load_settings
    from smallville.errors import ConfigError

    monkeypatch.chdir(tmp_path)  # no ./smallville.toml here
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("SMALLVILLE_MODEL", raising=False)
    config = tmp_path / "elsewhere.toml"
    config.write_text('[[inference.endpoints]]\nname = "proxy"\nbase_url = "http://127.0.0.1:9/v1?api-key=K123456"\n'
                      'model = "m"\n', encoding="utf-8")
    from smallville.run.assemble import manifest_settings

    saved = settings_from_manifest(json.loads(json.dumps(manifest_settings(load_settings(config)))),
                                   tmp_path / "manifest.json").inference
    with pytest.raises(ConfigError, match="--config") as refused:
        inference_for_save(saved)
    assert "proxy" in str(refused.value) and "K123456" not in str(refused.value)
    assert inference_for_save(saved, config).endpoints[0].base_url.endswith("?api-key=K123456")


def test_a_an_embeddings_answer_far_larger_than_asked_is_not_read_whole(tmp_path):
    from smallville.inference.base import ResponseTooLarge
    from smallville.inference.embed import RemoteEmbedder

    # a server whose vectors are 200,000 numbers long (about 4 MB an answer) where 8 were asked
    with FakeServer(embedding_dim=200_000) as srv:
        embedder = RemoteEmbedder(srv.base_url, "fake-model", dim=8, name="vectors", max_retries=0)

        async def go() -> None:
            with pytest.raises(ResponseTooLarge, match="embeddings answer over"):
                await embedder.embed(["a kite", "a party"])
            await embedder.aclose()

        run(go())


def test_d_the_embedded_model_leaves_a_core_to_the_town(monkeypatch):
    """llama.cpp's threads wait for each other at every layer: one sharing its core with other work slows
    every token (a morning with one core busy went from 5 minutes to hours). One fewer than the cores."""
    import os

    from smallville.inference.local import default_threads

    monkeypatch.delenv("SMALLVILLE_LLAMA_THREADS", raising=False)
    assert default_threads() == max(1, len(os.sched_getaffinity(0)) - 1)
    monkeypatch.setenv("SMALLVILLE_LLAMA_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("SMALLVILLE_LLAMA_THREADS", "lots")
    assert default_threads() == max(1, len(os.sched_getaffinity(0)) - 1)


def test_d_two_embedded_servers_where_there_are_two_cores(monkeypatch, caplog):
    """Each embedded server answers one request at a time: two side by side on 2 cores or more, each with its
    share of the cores less one (at least one thread); both numbers can be set, and an odd value is said in
    the log and gives the default."""
    import contextlib
    import os

    from smallville.inference.local import default_servers, default_threads, start_servers

    cores = len(os.sched_getaffinity(0))
    monkeypatch.delenv("SMALLVILLE_LLAMA_SERVERS", raising=False)
    monkeypatch.delenv("SMALLVILLE_LLAMA_THREADS", raising=False)
    assert default_servers() == (2 if cores >= 2 else 1)
    assert default_threads(2) == max(1, (cores - 1) // 2) and default_threads(1) == max(1, cores - 1)
    monkeypatch.setenv("SMALLVILLE_LLAMA_SERVERS", "3")
    monkeypatch.setenv("SMALLVILLE_LLAMA_THREADS", "2")
    assert default_servers() == 3 and default_threads(3) == 2  # threads per server
    for odd in ("0", "-1", "nan", "inf", "lots", "1e9", "65", "\u00b2", " 2x"):
        monkeypatch.setenv("SMALLVILLE_LLAMA_SERVERS", odd)
        caplog.clear()
        assert default_servers() == (2 if cores >= 2 else 1), odd
        assert "SMALLVILLE_LLAMA_SERVERS" in caplog.text and "not a whole number" in caplog.text
    with contextlib.ExitStack() as stack, pytest.raises(ValueError, match="at least one"):
        start_servers(stack, 0)
