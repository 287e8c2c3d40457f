"""``python -m wardwatch.cli``: the same as the ``wardwatch`` command."""

from wardwatch.cli import main

main()
