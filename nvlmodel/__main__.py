"""``python -m nvlmodel``: see :mod:`nvlmodel.cli`."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
