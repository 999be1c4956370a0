"""A fake OpenAI-compatible server on loopback, for tests and benchmarks.

A programmable stand-in for vLLM / llama.cpp / OpenAI: `/v1/models`, `/v1/chat/completions` and
`/v1/embeddings` over real HTTP/1.1 (keep-alive), so the client is tested through its real network path
rather than through mocks. In five parts, each owning one concern:
- `server.py`: running it, in a thread (`FakeServer`, tests) or in its own process (`FakeServerProcess` and
  `python -m smallville.testing.fake_server`, benchmarks), and programming it;
- `wire.py`: HTTP/1.1 on asyncio (listener, connections, the `/_fake/` control routes, `kill`);
- `api.py`: what one request gets: routes, keys, models, the programmed behaviour, the bodies;
- `faults.py`: the fault modes it can be programmed with (`429`, `drop`, `hang`, `garbage`, `huge`, ...)
  and the state holding them; `answers.py`: what its answers say when nothing goes wrong (minimal valid
  instances, or an answer source such as the scripted model: `FakeServer(answers=scripted.answer)`).
"""

from smallville.testing.fake_server.server import FakeServer, FakeServerProcess

__all__ = ["FakeServer", "FakeServerProcess"]
