"""Instrument facts: bands, filter curves, IFOV, detector quirks (one module per instrument)."""

from __future__ import annotations

from ioscan.geometry.camera import DetectorLayout


def detector_layout(spice_frame: str) -> DetectorLayout | None:
    """Pixel layout and axis convention declared for a SPICE instrument frame, or None if no instrument
    module declares one (callers must then refuse the frame, not guess a convention)."""
    from ioscan.instruments import jiram

    return jiram.DETECTORS.get(spice_frame.upper())
