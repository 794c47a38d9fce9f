"""Hot-spot detection and measurement: background, source finding, photometry.

Entry point: :func:`detect_frame` (a :class:`~ioscan.frame.Frame` and optional per-band backplanes →
:class:`FrameDetections`), settings in :class:`DetectConfig`.
"""

from ioscan.detect.config import DetectConfig, default_psf
from ioscan.detect.measure import BandDetections, FrameDetections, detect_band, detect_frame
from ioscan.detect.psf import PsfModel
from ioscan.detect.types import Detection, DetectionFlag

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
