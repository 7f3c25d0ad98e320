"""``vaos chat``: the interactive terminal.

- ``backend``: where turns run: a running daemon over HTTP (``RemoteBackend``) or this
  process (``LocalBackend``); both give the run's flat events.
- ``render``: a turn on screen: spinner, streamed Markdown, tool calls as they happen,
  usage and cost.
- ``commands``: the slash commands (the shared table of ``vaos.agent`` when it has one).
- ``loop``: the prompt_toolkit session (history, multi-line) and the read-eval-print loop.
"""
