"""Hot-spot colour temperatures: what tracking makes of two bands of one hot spot seen close in time
(:mod:`ioscan.track.colour`), and what the catalogue's ``hotspot_temperatures`` table keeps (its columns are
generated from :class:`HotspotTemperature`'s fields).

Errors come in two parts, as for intensities: ``_err`` random (the two intensities' random errors and the
variability allowed between the two times), ``_cal_err`` from the two bands' calibration errors (correlated
between hot spots). Temperatures in K, areas in km², powers in GW, times ISO 8601 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntFlag


class TemperatureFlag(IntFlag):
    """Why a hot-spot temperature is kept out of statistics (stored as an integer bitmask)."""

    NONE = 0
    TEMPERATURE_RANGE = 1  #: colour temperature outside what Io shows (150–2,000 K by default)
    POWER_RANGE = 2  #: total power beyond the largest outbursts on record (1e5 GW by default)
    NO_FIT = 4  #: the intensity ratio has no blackbody temperature (``message`` says why)

    @classmethod
    def names(cls, value: int) -> list[str]:
        """Names of the flags set in ``value``."""
        return [f.name for f in cls if f.value and (int(value) & f.value) and f.name]


def _col(**meta) -> dict:
    return {"metadata": meta}


@dataclass
class HotspotTemperature:
    """Colour temperature, emitting area and total power of one hot spot from a pair of detections in two
    bands of one instrument (the shorter-wavelength one first), taken ``dt_s`` apart.

    Attributes:
        hotspot_id: the hot spot.
        instrument: registry name of the instrument.
        band_short, band_long: the two bands (JIRAM "L", "M").
        time_utc: the pair's mean time, ISO 8601 UTC.
        dt_s: long-band time minus short-band time, s.
        detection_short, detection_long: catalogue row ids (``detections.id``) of the two detections.
        intensity_short_gw_um_sr, intensity_long_gw_um_sr: their foreshortening-corrected intensities.
        intensity_short_err_gw_um_sr, intensity_long_err_gw_um_sr: their random errors with the variability
            allowance included.
        variability_err_fraction: the allowance for the source changing between the two times (fraction of
            the ratio, split equally between the bands).
        temperature_k, area_km2, total_power_gw: the single-temperature blackbody fit.
        *_err_*: random 1σ errors; *_cal_err_*: 1σ errors from the bands' calibration.
        t_area_correlation: correlation of the T and area errors.
        flags: :class:`TemperatureFlag` bitmask (0: usable).
        usable: True when no flag is set: counts in statistics.
        message: the fit's message ("ok", or why no temperature).
    """

    hotspot_id: str = field(**_col(length=16, required=True))
    instrument: str = field(**_col(length=32, required=True))
    band_short: str = field(**_col(length=16, required=True))
    band_long: str = field(**_col(length=16, required=True))
    time_utc: str = field(**_col(time=True, required=True))
    dt_s: float | None = None
    detection_short: int | None = None
    detection_long: int | None = None
    intensity_short_gw_um_sr: float | None = None
    intensity_short_err_gw_um_sr: float | None = None
    intensity_long_gw_um_sr: float | None = None
    intensity_long_err_gw_um_sr: float | None = None
    variability_err_fraction: float | None = None
    temperature_k: float | None = None
    temperature_err_k: float | None = None
    temperature_sys_err_k: float | None = None
    area_km2: float | None = None
    area_err_km2: float | None = None
    area_sys_err_km2: float | None = None
    total_power_gw: float | None = None
    total_power_err_gw: float | None = None
    total_power_sys_err_gw: float | None = None
    t_area_correlation: float | None = None
    flags: int = field(default=0, **_col(required=True, default="0"))
    usable: bool = field(default=False, **_col(required=True))
    message: str | None = field(default=None, **_col(text=True))

    @property
    def flag_names(self) -> list[str]:
        return TemperatureFlag.names(self.flags)
