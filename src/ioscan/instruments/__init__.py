"""The instrument registry: one object per instrument with every fact a stage needs.

:func:`get_instrument` finds an instrument by its name or an alias found in labels and headers; stages ask it
for bands, PSF, detector layout, artefact quirks and pointing priors instead of branching on names. To add an
instrument: write ``instruments/<name>.py`` with its facts and an :class:`Instrument` subclass, and list it in
``_REGISTRY`` below (see docs/architecture.md).
"""

from __future__ import annotations

from ioscan.instruments.base import (
    DIRECT_VIEW_AXES,
    ArtefactModel,
    Band,
    DetectorLayout,
    Instrument,
    PhotometryPrior,
    PixelAxes,
    PointingPrior,
    UnknownInstrumentError,
)


def _registry() -> dict[str, Instrument]:
    from ioscan.instruments.jiram import JIRAM
    from ioscan.instruments.nirc2 import NIRC2

    return {inst.name: inst for inst in (JIRAM, NIRC2)}


def instruments() -> dict[str, Instrument]:
    """Every registered instrument by name."""
    return _registry()


def get_instrument(name: str) -> Instrument:
    """The instrument called ``name`` or one of its aliases (case-insensitive), else an error."""
    key = str(name or "").strip().upper()
    for inst in _registry().values():
        if key == inst.name.upper() or key in inst.aliases:
            return inst
    known = ", ".join(_registry())
    raise UnknownInstrumentError(
        f"instrument {name!r} is not in ioscan's instrument registry (known: {known})"
    )


def detector_layout(spice_frame: str) -> DetectorLayout | None:
    """Pixel layout and axis convention an instrument declares for a SPICE frame, or None when none does
    (callers must then refuse the frame, not guess a convention)."""
    key = str(spice_frame).upper()
    for inst in _registry().values():
        if key in inst.detectors:
            return inst.detectors[key]
    return None


__all__ = [
    "DIRECT_VIEW_AXES",
    "ArtefactModel",
    "Band",
    "DetectorLayout",
    "Instrument",
    "PhotometryPrior",
    "PixelAxes",
    "PointingPrior",
    "UnknownInstrumentError",
    "detector_layout",
    "get_instrument",
    "instruments",
]
