"""Stand-ins for tests, tools and benchmarks: never part of a real run.

Owns what plays the part of the outside world when the town is tested or measured:
- `fake_server/`: a fake OpenAI-compatible server on loopback, with every fault a real one shows;
- `scripted.py`: a scripted model answering the agents' prompts plausibly from the prompt text alone;
- `tmxwrite.py`: writing Tiled maps (the town's generator in tools/ and the tests' small maps).

Product code never imports this package; the benchmark commands (`smallville bench ...` and the
measurements beside them) are the one exception, since measuring the town against a stand-in is their job.
"""
