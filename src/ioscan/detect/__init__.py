"""Hot-spot detection: mask → limb → background → find → fit → second pass → flag, band by band.

Entry point: :func:`detect_frame` (a :class:`~ioscan.records.Frame` and optional per-band backplanes →
:class:`FrameDetections`, pixel-level), settings in :class:`DetectConfig`. Measurement (surface positions,
intensities, colour temperatures) is :mod:`ioscan.measure`'s.
"""

from ioscan.detect.band import detect_band
from ioscan.detect.config import DetectConfig, default_psf
from ioscan.detect.frame import detect_frame
from ioscan.detect.psf import PsfModel
from ioscan.detect.results import BandDetections, FrameDetections
from ioscan.records import Detection, DetectionFlag

__all__ = [
    "BandDetections",
    "DetectConfig",
    "Detection",
    "DetectionFlag",
    "FrameDetections",
    "PsfModel",
    "default_psf",
    "detect_band",
    "detect_frame",
]
