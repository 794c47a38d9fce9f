"""Command output is readable when piped: tables are not cut to 80 columns."""

from __future__ import annotations

from ioscan.cli.console import PIPE_WIDTH, make_console


def test_piped_output_is_wide_and_columns_is_respected(monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: False, raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    assert make_console().width == PIPE_WIDTH
    monkeypatch.setenv("COLUMNS", "100")
    assert make_console().width == 100
