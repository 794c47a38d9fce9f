"""Planck and thermal-emission physics: blackbody radiance, filter integrals, colour temperatures, power.

Modules: :mod:`.planck` (Planck's law and its inverse), :mod:`.bands` (filter responses, band radiance),
:mod:`.colour` (two-band colour temperature and area), :mod:`.twotemp` (two-component fits),
:mod:`.power` (total power from M-band spectral radiant power).
"""

from ioscan.radiometry.bands import (
    BandResponse,
    RadiometryError,
    band_log_slope,
    band_mean_spectral_radiance_w_m2_sr_um,
    band_radiance_w_m2_sr,
    band_response,
    brightness_temperature_band_k,
)
from ioscan.radiometry.colour import (
    ColorTemperatureFit,
    ColorTemperatureFitArray,
    color_ratio,
    color_temperature_k,
    fit_color_temperature,
    fit_color_temperature_array,
)
from ioscan.radiometry.planck import brightness_temperature_k, spectral_radiance_w_m2_sr_um
from ioscan.radiometry.power import (
    m_band_factor_range,
    m_band_to_total_factor,
    total_power_bracket_from_m_band_gw,
    total_power_from_m_band_gw,
)
from ioscan.radiometry.twotemp import (
    TwoTemperatureFit,
    fit_two_temperature,
    two_temperature_intensity_gw_um_sr,
)

__all__ = [
    "BandResponse",
    "ColorTemperatureFit",
    "ColorTemperatureFitArray",
    "RadiometryError",
    "TwoTemperatureFit",
    "band_log_slope",
    "band_mean_spectral_radiance_w_m2_sr_um",
    "band_radiance_w_m2_sr",
    "band_response",
    "brightness_temperature_band_k",
    "brightness_temperature_k",
    "color_ratio",
    "color_temperature_k",
    "fit_color_temperature",
    "fit_color_temperature_array",
    "fit_two_temperature",
    "m_band_factor_range",
    "m_band_to_total_factor",
    "spectral_radiance_w_m2_sr_um",
    "total_power_bracket_from_m_band_gw",
    "total_power_from_m_band_gw",
    "two_temperature_intensity_gw_um_sr",
]
