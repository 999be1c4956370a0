"""The window (the only package that imports pygame): live runs, replays, the inspector and the chat.

Owns pygame's greeting too: pygame prints it on stdout when first imported, which would break what a
command prints there for a parser (`smallville bench viewer --json`). Every module here imports pygame
after this package runs, so the greeting is turned off here once, before any of them can import it.
"""

import os

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
