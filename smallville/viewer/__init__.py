"""The window (the only package that imports pygame): live runs, replays, the inspector and the chat."""
