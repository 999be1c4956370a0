"""The server pool against real fake servers over loopback: routing, retries, failover, breaker, errors."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from inference_kit import CHAT, KEY_ENV, SECRET, Plan, opts, run, servers, settings_for

from smallville.inference.accounting import Accounting
from smallville.inference.base import (
    AuthenticationFailed,
    EndpointUnavailable,
    InferenceError,
    ModelNotFound,
    NoEndpointAvailable,
    RateLimited,
)
from smallville.inference.pool import RequestRejected, ServerPool
from smallville.testing.fake_server import FakeServerProcess


def test_structured_call_sends_schema_seed_and_temperature():
    with servers(1) as (srv,):
        async def go() -> Plan:
            async with ServerPool(settings_for(srv)) as pool:
                return await pool.complete_model(CHAT, Plan, opts(seed=42, temperature=0.3, max_tokens=200))

        plan = run(go())
        assert isinstance(plan, Plan) and plan.steps[0].place == "cafe"
        sent = srv.stats()["recent"][-1]
        assert sent["seed"] == 42 and sent["temperature"] == 0.3 and sent["max_tokens"] == 200
        fmt = sent["response_format"]
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
        assert fmt["json_schema"]["schema"]["additionalProperties"] is False


@pytest.mark.parametrize("mode", ["json_object_schema", "prompt"])
def test_other_structured_modes(mode):
    with servers(1) as (srv,):
        async def go() -> Plan:
            async with ServerPool(settings_for(srv, structured=mode)) as pool:
                return await pool.complete_model(CHAT, Plan, opts())

        assert run(go()).steps
        sent = srv.stats()["recent"][-1]
        if mode == "json_object_schema":  # llama-cpp-python's form
            assert sent["response_format"] == {"type": "json_object", "schema": Plan.model_json_schema()}
        else:  # schema in the prompt; the fake answers inside a code fence, as chat models do
            assert "response_format" not in sent
            assert '"properties"' in sent["messages"][-1]["content"]


def test_least_outstanding_work_respects_weights_and_ties_by_name():
    with servers(2, latency_s=0.05) as (a, b):
        async def go() -> None:
            async with ServerPool(settings_for(a, b, weights=(1.0, 3.0))) as pool:
                await pool.complete_text(CHAT, opts())  # idle pool, equal load: the first name wins
                assert (a.requests, b.requests) == (1, 0)
                await asyncio.gather(*(pool.complete_text(CHAT, opts()) for _ in range(80)))

        run(go())
        # 80 at once over weights 1:3 -> about 20 / 60
        assert 15 <= a.requests - 1 <= 25 and 55 <= b.requests <= 65


def test_429_waits_for_retry_after_then_succeeds():
    with servers(1) as (srv,):
        srv.script("429:0.4")
        acc = Accounting()

        async def go() -> float:
            async with ServerPool(settings_for(srv), acc) as pool:
                start = time.monotonic()
                await pool.complete_text(CHAT, opts("talk"))
                return time.monotonic() - start

        assert run(go()) >= 0.4
        assert srv.requests == 2
        snap = acc.snapshot()
        assert snap["by_purpose"]["talk"]["retries"] == 1
        assert snap["by_endpoint"]["a"]["error_kinds"] == {"429": 1}


def test_429_forever_raises_rate_limited_after_the_retries():
    with servers(1) as (srv,):
        srv.set_default("429:0.01")

        async def go() -> None:
            async with ServerPool(settings_for(srv, retries=2)) as pool:
                await pool.complete_text(CHAT, opts())

        with pytest.raises(RateLimited, match=r"^\[a\] HTTP 429"):
            run(go())
        assert srv.requests == 3


def test_429_fails_over_at_once_to_an_endpoint_that_is_not_limited():
    with servers(2) as (a, b):
        a.script("429:5")

        async def go() -> float:
            async with ServerPool(settings_for(a, b)) as pool:
                start = time.monotonic()
                await pool.complete_text(CHAT, opts())
                return time.monotonic() - start

        assert run(go()) < 1.0
        assert (a.requests, b.requests) == (1, 1)


@pytest.mark.parametrize("fault", ["500", "503", "non_json", "drop"])
def test_server_faults_are_retried(fault):
    with servers(1) as (srv,):
        srv.script(fault, fault)

        async def go() -> str:
            async with ServerPool(settings_for(srv)) as pool:
                return await pool.complete_text(CHAT, opts())

        assert run(go()).startswith("A fake answer")
        assert srv.requests == 3


def test_401_raises_at_once_and_names_the_variable_not_the_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with servers(1, api_key="sk-the-right-one-000000") as (srv,):
        async def go() -> None:
            async with ServerPool(settings_for(srv, api_key_env=KEY_ENV)) as pool:
                await pool.complete_text(CHAT, opts())

        with pytest.raises(AuthenticationFailed) as info:
            run(go())
        assert srv.requests == 1  # not retried
        assert KEY_ENV in str(info.value) and SECRET not in str(info.value) and info.value.endpoint == "a"


def test_right_key_is_sent(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with servers(1, api_key=SECRET) as (srv,):
        async def go() -> str:
            async with ServerPool(settings_for(srv, api_key_env=KEY_ENV)) as pool:
                return await pool.complete_text(CHAT, opts())

        assert run(go())


def test_unknown_model_raises_model_not_found_at_once():
    with servers(1) as (srv,):
        async def go() -> None:
            async with ServerPool(settings_for(srv, model="no-such-model")) as pool:
                await pool.complete_text(CHAT, opts())

        with pytest.raises(ModelNotFound, match="no-such-model"):
            run(go())
        assert srv.requests == 1


def test_other_4xx_is_rejected_without_retry():
    with servers(1) as (srv,):
        srv.script("400")

        async def go() -> None:
            async with ServerPool(settings_for(srv)) as pool:
                await pool.complete_text(CHAT, opts())

        with pytest.raises(RequestRejected, match=r"^\[a\] HTTP 400"):
            run(go())
        assert srv.requests == 1


def test_401_without_a_key_says_which_variable_to_set():
    with servers(1) as (srv,):
        srv.set_default("401")

        async def go() -> None:
            async with ServerPool(settings_for(srv, api_key_env="SMALLVILLE_UNSET_KEY_VAR")) as pool:
                await pool.complete_text(CHAT, opts())

        with pytest.raises(AuthenticationFailed, match="no key: set \\$SMALLVILLE_UNSET_KEY_VAR"):
            run(go())


def test_timeout_fails_over_to_the_other_endpoint():
    with servers(2) as (a, b):
        a.set_default("hang")
        acc = Accounting()

        async def go() -> str:
            async with ServerPool(settings_for(a, b, timeout_s=0.3), acc) as pool:
                return await pool.complete_text(CHAT, opts())

        assert run(go())
        assert b.requests == 1
        snap = acc.snapshot()
        assert snap["totals"]["fallbacks"] == 1
        assert snap["by_endpoint"]["a"]["error_kinds"] == {"timeout": 1}


def test_breaker_takes_a_dead_endpoint_out_and_probes_it_back_in():
    with servers(2) as (a, b):
        async def go() -> None:
            async with ServerPool(settings_for(a, b, breaker_failures=2, breaker_cooldown_s=0.2)) as pool:
                a.kill()
                for _ in range(6):
                    assert await pool.complete_text(CHAT, opts())
                assert [s["in_rotation"] for s in pool.status()] == [False, True]
                before = b.requests
                await asyncio.sleep(0.5)  # probes fail while it is dead: stays out
                for _ in range(4):
                    await pool.complete_text(CHAT, opts())
                assert pool.status()[0]["in_rotation"] is False and b.requests == before + 4
                a.revive()
                for _ in range(40):  # the next probe (cooldown doubled) finds it healthy
                    await asyncio.sleep(0.1)
                    await pool.complete_text(CHAT, opts())
                    if pool.status()[0]["in_rotation"]:
                        break
                assert pool.status()[0]["in_rotation"] is True
                served = a.requests
                await asyncio.gather(*(pool.complete_text(CHAT, opts()) for _ in range(10)))
                assert a.requests > served  # back in rotation means it gets work again
                assert pool.accounting.snapshot()["by_endpoint"]["a"]["breaker_opened"] == 1

        run(go())


def test_every_endpoint_down_raises_a_typed_error_in_bounded_time():
    with servers(2) as (a, b):
        a.kill()
        b.kill()

        async def go() -> None:
            async with ServerPool(settings_for(a, b, retries=3, breaker_failures=100)) as pool:
                await pool.complete_text(CHAT, opts())

        start = time.monotonic()
        with pytest.raises(EndpointUnavailable, match="unreachable"):
            run(go())
        assert time.monotonic() - start < 5

        async def go_out() -> None:  # with the breaker open on both: NoEndpointAvailable
            async with ServerPool(settings_for(a, b, retries=4, breaker_failures=1, breaker_cooldown_s=30)) as pool:
                await pool.complete_text(CHAT, opts())

        with pytest.raises(NoEndpointAvailable, match="out of rotation"):
            run(go_out())


def test_killed_endpoint_mid_run_costs_callers_nothing():
    with servers(2, latency_s=0.01) as (a, b):
        async def go() -> int:
            failed = 0
            async with ServerPool(settings_for(a, b, timeout_s=2.0)) as pool:
                async def one(i: int) -> None:
                    nonlocal failed
                    if i == 60:
                        b.kill()
                    try:
                        await pool.complete_model(CHAT, Plan, opts())
                    except InferenceError:
                        failed += 1

                sem = asyncio.Semaphore(20)

                async def limited(i: int) -> None:
                    async with sem:
                        await one(i)

                await asyncio.gather(*(limited(i) for i in range(200)))
            return failed

        assert run(go()) == 0
        assert a.requests > 100


def test_keys_never_reach_logs_errors_or_reprs(monkeypatch, caplog, tmp_path):
    monkeypatch.setenv(KEY_ENV, SECRET)
    caplog.set_level(logging.DEBUG)
    for noisy in ("httpx", "openai"):  # `smallville.cli.main`, run in-process by other tests, quietens these
        caplog.set_level(logging.DEBUG, logger=noisy)
    texts: list[str] = []
    with servers(2, api_key=SECRET) as (a, b):
        a.script("500", "drop", "429:0.01", "non_json")
        b.script("503")

        async def go() -> None:
            async with ServerPool(settings_for(a, b, api_key_env=KEY_ENV)) as pool:
                texts.append(repr(pool))
                for _ in range(4):
                    await pool.complete_model(CHAT, Plan, opts())
                texts.append(json.dumps(pool.accounting.snapshot()))
                pool.accounting.save(tmp_path / "acc.json")
                texts.append(json.dumps(pool.status()))
            b.set_default("401")
            a.set_default("500")
            for settings in (settings_for(a, b, api_key_env=KEY_ENV, retries=1),
                             settings_for(b, api_key_env=KEY_ENV)):
                async with ServerPool(settings) as pool:
                    try:
                        await pool.complete_text(CHAT, opts())
                    except InferenceError as exc:
                        texts.append(f"{exc!s} {exc!r} {exc.__context__!r}")

        run(go())
    texts.append(caplog.text)
    texts.append((tmp_path / "acc.json").read_text())
    assert len(texts) == 7 and "HTTP Request" in caplog.text  # the logs did capture the traffic
    for text in texts:
        assert SECRET not in text and "SECRET-4f9c" not in text


def test_fake_server_process_serves_1000_concurrent_calls_and_obeys_its_controls(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    with FakeServerProcess(latency_s=0.5, api_key=SECRET) as srv:
        srv.script("503")

        async def go() -> list[str]:
            settings = settings_for(srv, api_key_env=KEY_ENV, max_concurrency=1000, timeout_s=20)
            async with ServerPool(settings) as pool:
                return await asyncio.gather(*(pool.complete_text(CHAT, opts()) for _ in range(1000)))

        start = time.monotonic()
        answers = run(go())
        assert len(answers) == 1000 and all(answers)
        assert time.monotonic() - start < 15  # all at once, not one after another (that would take 500 s)
        stats = srv.stats()
        assert stats["requests"] == 1001 and stats["outcomes"] == {"503": 1, "ok": 1000}
        srv.kill()

        async def dead() -> None:
            async with ServerPool(settings_for(srv, retries=1)) as pool:
                await pool.complete_text(CHAT, opts())

        with pytest.raises(EndpointUnavailable, match="unreachable"):
            run(dead())


def test_retry_after_holds_back_every_caller_of_a_limited_endpoint():
    with servers(1) as (srv,):
        async def go() -> None:
            async with ServerPool(settings_for(srv)) as pool:
                await pool.complete_text(CHAT, opts())
                srv.script("429:0.6")
                first = asyncio.create_task(pool.complete_text(CHAT, opts()))
                await asyncio.sleep(0.1)  # the 429 has arrived
                others = [asyncio.create_task(pool.complete_text(CHAT, opts())) for _ in range(5)]
                await asyncio.sleep(0.25)
                assert srv.requests == 2  # nobody sends while Retry-After runs
                await asyncio.gather(first, *others)

        run(go())
        assert srv.stats()["outcomes"] == {"429": 1, "ok": 7}


# -- hardening: each of these failed before its fix ---------------------------------------------------


def test_retry_after_is_capped_by_retry_after_max_s():
    with servers(1) as (srv,):
        srv.script("429:1e9", "429:inf")  # "come back in 30 years", and "never"

        async def go() -> str:
            async with ServerPool(settings_for(srv, retry_after_max_s=0.1)) as pool:
                return await pool.complete_text(CHAT, opts())

        start = time.monotonic()
        assert asyncio.run(asyncio.wait_for(go(), 5)).startswith("A fake answer")
        assert time.monotonic() - start < 3 and srv.requests == 3


def test_an_endpoint_without_a_models_route_comes_back_after_the_breaker():
    with servers(2) as (a, b):
        a.control(models_route=False)  # e.g. a proxy that serves chat but no /models

        async def go() -> None:
            async with ServerPool(settings_for(a, b, breaker_failures=1, breaker_cooldown_s=0.05)) as pool:
                a.kill()
                await pool.complete_text(CHAT, opts())
                assert pool.status()[0]["in_rotation"] is False
                a.revive()
                for _ in range(30):
                    await asyncio.sleep(0.05)
                    await pool.complete_text(CHAT, opts())
                    if pool.status()[0]["in_rotation"]:
                        break
                assert pool.status()[0]["in_rotation"] is True

        run(go())


ODD_BODIES = {  # 200 answers that are JSON but no chat completion a caller could use
    "choices_not_a_list": {"choices": {"0": {"message": {"content": "hi"}}}},
    "choice_not_an_object": {"choices": ["hi"]},
    "message_not_an_object": {"choices": [{"message": "hi", "finish_reason": "stop"}]},
    "content_a_number": {"choices": [{"message": {"content": 42}, "finish_reason": "stop"}]},
}


@pytest.mark.parametrize("name", sorted(ODD_BODIES))
def test_odd_completion_bodies_are_the_endpoints_fault_not_a_crash(name, monkeypatch):
    from smallville.testing.fake_server import api as fake_api

    real_chat = fake_api._chat
    sent: list[str] = []

    def chat(request, behaviour, answers=None):  # the first answer is odd, the next ones normal
        if not sent:
            sent.append(name)
            return fake_api.Reply.json(200, ODD_BODIES[name])
        return real_chat(request, behaviour, answers)

    monkeypatch.setattr(fake_api, "_chat", chat)
    with servers(1) as (srv,):
        acc = Accounting()

        async def go() -> str:
            async with ServerPool(settings_for(srv), acc) as pool:
                return await pool.complete_text(CHAT, opts("talk"))

        assert run(go()).startswith("A fake answer")  # never "42", never a TypeError
        assert srv.requests == 2 and acc.snapshot()["by_endpoint"]["a"]["error_kinds"] == {"bad_body": 1}


@pytest.mark.parametrize("body", [
    {"choices": [{"message": {"content": [{"type": "text", "text": "A fake "}, {"type": "text", "text": "answer"}]},
                  "finish_reason": "stop"}], "usage": "plenty"},
    {"choices": [{"message": {"content": "A fake answer"}, "finish_reason": 7}], "usage": {"prompt_tokens": "x"}},
])
def test_usable_answers_with_odd_extras_are_used(body, monkeypatch):
    from smallville.testing.fake_server import api as fake_api

    monkeypatch.setattr(fake_api, "_chat",
                        lambda request, behaviour, answers=None: fake_api.Reply.json(200, body))
    with servers(1) as (srv,):
        async def go() -> str:
            async with ServerPool(settings_for(srv)) as pool:
                return await pool.complete_text(CHAT, opts("talk"))

        assert run(go()) == "A fake answer" and srv.requests == 1


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return seen


def test_errors_never_carry_the_key_a_server_echoes(monkeypatch):
    """Some servers and proxies quote the key they refused; the client's exception holds it, and the request
    with its Authorization header. Neither may travel with the error the caller gets."""
    import traceback

    from smallville.inference.embed import RemoteEmbedder
    from smallville.testing.fake_server import api as fake_api

    real = fake_api.handle_request

    async def echoing(state, method, path, headers, body):
        reply = await real(state, method, path, headers, body)
        if reply.status >= 400:
            reply = fake_api.Reply.json(reply.status, {"error": {
                "message": f"refused, you sent {headers.get('authorization')}", "code": "x"}})
        return reply

    monkeypatch.setattr(fake_api, "handle_request", echoing)
    monkeypatch.setenv(KEY_ENV, SECRET)
    errors: list[BaseException] = []
    with servers(1, api_key="sk-the-right-one-000000") as (locked,), servers(1) as (srv,):
        async def go() -> None:
            async def catch(call) -> None:
                try:
                    await call
                except InferenceError as exc:
                    errors.append(exc)

            async with ServerPool(settings_for(locked, api_key_env=KEY_ENV)) as pool:
                await catch(pool.complete_text(CHAT, opts()))
            async with ServerPool(settings_for(srv, api_key_env=KEY_ENV, model="no-such-model")) as pool:
                await catch(pool.complete_text(CHAT, opts()))
                srv.control(models_route=False)
                await catch(pool.list_models("a"))
            async with ServerPool(settings_for(srv, api_key_env=KEY_ENV)) as pool:
                srv.script("400")
                await catch(pool.complete_text(CHAT, opts()))
            emb = RemoteEmbedder(locked.base_url, "fake-model", api_key_env=KEY_ENV, name="e", max_retries=0)
            await catch(emb.embed(["x"]))
            await emb.aclose()

        run(go())
    assert [type(e).__name__ for e in errors] == ["AuthenticationFailed", "ModelNotFound", "ModelNotFound",
                                                  "RequestRejected", "AuthenticationFailed"]
    for error in errors:
        chain = _chain(error)
        assert len(chain) == 1, [type(e).__name__ for e in chain]
        text = "".join(traceback.format_exception(error)) + repr(error)
        assert SECRET not in text and "SECRET-4f9c" not in text


def test_a_key_in_the_base_url_is_never_shown(monkeypatch):
    from smallville.inference.doctor import check_endpoints, render_table

    with servers(1) as (srv,):
        port = srv.port
        srv.kill()
        url = f"http://127.0.0.1:{port}/v1?api-key={SECRET}"  # how some proxies take their key
        settings = settings_for(srv, retries=0)
        settings.endpoints[0] = settings.endpoints[0].model_copy(update={"base_url": url})
        shown: list[str] = []

        async def go() -> None:
            async with ServerPool(settings) as pool:
                shown.append(json.dumps(pool.status()) + repr(pool._endpoints))
                try:
                    await pool.complete_text(CHAT, opts())
                except InferenceError as exc:
                    shown.append(str(exc))

        run(go())
        shown.append(render_table(check_endpoints(settings)))
    assert len(shown) == 3 and "127.0.0.1" in shown[1] and "api-key=***" in shown[2]
    for text in shown:
        assert SECRET not in text
