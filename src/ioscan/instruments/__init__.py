"""Instrument facts: bands, filter curves, IFOV, detector quirks (one module per instrument)."""
