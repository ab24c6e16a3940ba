"""``python -m floe.adapters.cli``: the ``floe`` command."""

from floe.adapters.cli import main

main()
