"""``python -m ioscan.cli``: the ``ioscan`` command without an installed entry point."""

from ioscan.cli import app

app(prog_name="ioscan")
