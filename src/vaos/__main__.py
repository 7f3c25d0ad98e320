"""``python -m vaos``: the same as the ``vaos`` command."""

from vaos.cli.app import main

main()
