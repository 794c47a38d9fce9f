"""``python -m ioscan.cli``: the same command as ``ioscan``."""

from ioscan.cli import app

app()
