"""Measurement of detected hot spots: where they are on Io (latitude, west longitude, errors), how bright
(spectral radiance, foreshortening-corrected intensity and power), how hot and how big (two-band colour
temperature, area, total power), and what the frame could have seen (detection limits).

Entry point: :func:`measure_frame` (a frame, :func:`ioscan.detect.detect_frame`'s detections and the
backplanes), settings in :class:`MeasureConfig`. Names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ioscan._lazy import lazy_exports

#: public name → module that defines it
_PUBLIC = {
    "MeasureConfig": "ioscan.measure.config",
    "detection_limit_gw_um_sr": "ioscan.measure.limits",
    "measure_frame": "ioscan.measure.frame",
}

__all__ = [
    "MeasureConfig",
    "detection_limit_gw_um_sr",
    "measure_frame",
]
__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC, globals())

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from ioscan.measure.config import MeasureConfig
    from ioscan.measure.frame import measure_frame
    from ioscan.measure.limits import detection_limit_gw_um_sr
