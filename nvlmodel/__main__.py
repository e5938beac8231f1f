"""``python -m nvlmodel``: see :mod:`nvlmodel.cli`."""

from .cli import main

raise SystemExit(main())
