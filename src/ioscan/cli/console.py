"""The rich console every command prints to: the terminal's width, or 160 columns when the output goes to a
file or a pipe (rich would otherwise assume 80 and elide the columns of the detection and summary tables)."""

from __future__ import annotations

import os
import sys

#: width used when stdout is not a terminal and COLUMNS is not set
PIPE_WIDTH = 160


def make_console():
    """A :class:`rich.console.Console` for command output (see the module docstring)."""
    from rich.console import Console

    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return Console()
    return Console(width=PIPE_WIDTH)
