"""The records every stage and the catalogue share: what a reader returns (:class:`Frame`), what the detector
and measurement produce (:class:`Detection` with :class:`DetectionFlag`), and what the catalogue keeps of a
product (:class:`Observation`, :class:`BandSummary`), and what tracking makes of a hot spot seen in two bands
(:class:`HotspotTemperature` with :class:`TemperatureFlag`). Plain dataclasses; no stage-specific imports.
"""

from ioscan.records.detection import Detection, DetectionFlag
from ioscan.records.frame import (
    BAND_RADIANCE_UNIT,
    SPECTRAL_RADIANCE_UNIT,
    BandImage,
    Frame,
    LabelGeometry,
)
from ioscan.records.observation import GEOMETRY_SOURCES, BandSummary, Observation
from ioscan.records.temperature import HotspotTemperature, TemperatureFlag

__all__ = [
    "BAND_RADIANCE_UNIT",
    "GEOMETRY_SOURCES",
    "SPECTRAL_RADIANCE_UNIT",
    "BandImage",
    "BandSummary",
    "Detection",
    "DetectionFlag",
    "Frame",
    "HotspotTemperature",
    "LabelGeometry",
    "Observation",
    "TemperatureFlag",
]
