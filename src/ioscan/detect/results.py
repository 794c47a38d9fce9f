"""What detection returns: per band (:class:`BandDetections`) and per frame (:class:`FrameDetections`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ioscan.detect.background import BandModel
from ioscan.detect.flags import ARTEFACT_OR_HIT
from ioscan.records import Detection

#: frame and band statuses, best first (a frame takes the best of its bands')
STATUSES = ("ok", "no_detections", "saturated", "no_io", "all_nan")


@dataclass
class BandDetections:
    """Result for one band: its detections, status, noise and (optionally) the background model."""

    band: str
    status: str
    detections: list[Detection] = field(default_factory=list)
    noise_median: float | None = None
    messages: list[str] = field(default_factory=list)
    model: BandModel | None = None
    offset: tuple[int, int] = (0, 0)  #: (line, sample) of the model's first pixel in the band image


@dataclass
class FrameDetections:
    """Detections of one frame.

    Attributes:
        product_id: the frame's product ID.
        detections: all detections of all bands (flagged ones included).
        status: "ok", "no_io", "all_nan", "saturated" or "no_detections" (the best over the bands).
        band_status: band → status.
        noise: band → median local noise, in the band's unit.
        messages: what happened (skipped bands, capped lists, failed colour fits...).
        bands: band → :class:`BandDetections` (with background models when requested).
    """

    product_id: str
    detections: list[Detection]
    status: str
    band_status: dict[str, str]
    noise: dict[str, float | None]
    messages: list[str]
    bands: dict[str, BandDetections] = field(default_factory=dict)

    @property
    def hot_spots(self) -> list[Detection]:
        """Detections that are not flagged as cosmic rays or artefacts."""
        return [d for d in self.detections if not (d.flags & ARTEFACT_OR_HIT)]

    @property
    def flags(self) -> int:
        """OR of all detection flags."""
        out = 0
        for d in self.detections:
            out |= d.flags
        return out


def best_status(statuses: list[str]) -> str:
    """The best of the bands' statuses (order of :data:`STATUSES`); "all_nan" when there is none."""
    return min(statuses, key=STATUSES.index) if statuses else "all_nan"
