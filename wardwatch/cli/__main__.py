"""``python -m wardwatch.cli``: the same as the ``wardwatch`` command."""

from wardwatch.cli import main

if __name__ == "__main__":
    main()
