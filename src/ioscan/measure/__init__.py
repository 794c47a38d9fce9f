"""Measurement of detected hot spots: where they are on Io (latitude, west longitude, errors), how bright
(spectral radiance, foreshortening-corrected intensity and power), how hot and how big (two-band colour
temperature, area, total power), and what the frame could have seen (detection limits).

Entry point: :func:`measure_frame` (a frame, :func:`ioscan.detect.detect_frame`'s detections and the
backplanes), settings in :class:`MeasureConfig`.
"""

from ioscan.measure.config import MeasureConfig
from ioscan.measure.frame import measure_frame
from ioscan.measure.limits import detection_limit_gw_um_sr

__all__ = ["MeasureConfig", "detection_limit_gw_um_sr", "measure_frame"]
