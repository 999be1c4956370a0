"""`python -m smallville.testing.fake_server`: the fake server in a process of its own (`server.main`)."""

from smallville.testing.fake_server.server import main

main()
