"""Hot-spot detection: mask → limb → background → find → fit → second pass → flag, band by band.

Entry point: :func:`detect_frame` (a :class:`~ioscan.records.Frame` and optional per-band backplanes →
:class:`FrameDetections`, pixel-level), settings in :class:`DetectConfig`. Measurement (surface positions,
intensities, colour temperatures) is :mod:`ioscan.measure`'s. Names are imported on first use, so the
settings (``ioscan.detect.config``) come without the pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ioscan._lazy import lazy_exports

#: public name → module that defines it
_PUBLIC = {
    "BandDetections": "ioscan.detect.results",
    "DetectConfig": "ioscan.detect.config",
    "Detection": "ioscan.records",
    "DetectionFlag": "ioscan.records",
    "FrameDetections": "ioscan.detect.results",
    "PsfModel": "ioscan.detect.psf",
    "default_psf": "ioscan.detect.config",
    "detect_band": "ioscan.detect.band",
    "detect_frame": "ioscan.detect.frame",
}

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
__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC, globals())

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from ioscan.detect.band import detect_band
    from ioscan.detect.config import DetectConfig, default_psf
    from ioscan.detect.frame import detect_frame
    from ioscan.detect.psf import PsfModel
    from ioscan.detect.results import BandDetections, FrameDetections
    from ioscan.records import Detection, DetectionFlag
