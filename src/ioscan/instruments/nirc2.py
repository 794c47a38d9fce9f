"""Keck NIRC2 (narrow camera) facts for ground-based adaptive-optics Io frames (DESIGN.md §4).

Filter centres and widths are NIRC2's published values (Keck NIRC2 filter page); plate scale 9.942 mas/px.
"""

from __future__ import annotations

from dataclasses import dataclass

PLATE_SCALE_ARCSEC = 0.009942
DETECTOR_PIXELS = 1024
KECK_APERTURE_M = 10.0


@dataclass(frozen=True)
class Nirc2Filter:
    """A NIRC2 filter: central wavelength and FWHM bandwidth in µm."""

    name: str
    center_um: float
    bandwidth_um: float

    @property
    def low_um(self) -> float:
        return self.center_um - self.bandwidth_um / 2

    @property
    def high_um(self) -> float:
        return self.center_um + self.bandwidth_um / 2


FILTERS: dict[str, Nirc2Filter] = {
    "Kc": Nirc2Filter("Kc", 2.271, 0.030),
    "H2O": Nirc2Filter("H2O", 3.063, 0.155),
    "PAH": Nirc2Filter("PAH", 3.290, 0.056),
    "Lp": Nirc2Filter("Lp", 3.776, 0.700),
    "BrA_cont": Nirc2Filter("BrA_cont", 3.987, 0.053),
    "BrA": Nirc2Filter("BrA", 4.052, 0.060),
    "Ms": Nirc2Filter("Ms", 4.670, 0.241),
}
