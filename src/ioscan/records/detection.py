"""Plain records passed from detection to measurement, storage and tracking.

Positions are 0-based with pixel centres at integers, in the product's own orientation (``line`` counts
product lines, so an I1 M-band source has line ≥ 128). Latitudes planetographic °N, longitudes west °W.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntFlag


class DetectionFlag(IntFlag):
    """Quality flags of one detection (stored as an integer bitmask)."""

    NONE = 0
    SATURATED = 1  #: a pixel within the saturation margin (5 % of saturation by default)
    NEAR_LIMB = 2  #: within a few pixels of Io's limb
    EDGE = 4  #: touches the frame edge
    COSMIC_RAY = 8  #: looks like a cosmic-ray hit (too sharp for the PSF)
    BLENDED = 16  #: deblended from a neighbour
    OFF_DISK = 32  #: centroid off Io's disk (geometry available)
    LOW_SNR = 64  #: below the catalogue threshold, kept for forced photometry
    ARTEFACT = 128  #: other detector artefact (column reflection...)
    LOWER_LIMIT = 256  #: the intensity is a lower limit (saturated source), not a measurement

    @classmethod
    def names(cls, value: int) -> list[str]:
        """Names of the flags set in ``value`` (e.g. ``["SATURATED", "NEAR_LIMB"]``)."""
        return [f.name for f in cls if f.value and (int(value) & f.value) and f.name]


@dataclass
class Detection:
    """One hot-spot detection in one band of one frame, with its measurements.

    Pixel quantities are always present (the detector's); geometry and physical quantities are filled by
    measurement (:mod:`ioscan.measure`) and are None without geometry. The catalogue's ``detections``
    columns are generated from these fields (field metadata says how to store one; in a database every
    column but ``band`` and ``flags`` may be NULL, as imported published detections have no pixels).
    """

    band: str = field(metadata={"length": 16, "required": True})
    sample: float
    line: float
    sample_err_px: float
    line_err_px: float
    snr: float
    net_radiance_sum: float  #: background-subtracted sum over the source, in ``unit``
    net_radiance_sum_err: float
    unit: str = field(metadata={"length": 32})  #: "W m-2 sr-1" (band radiance) or "W m-2 sr-1 um-1"
    background: float  #: local background per pixel, in ``unit``
    peak: float  #: highest pixel value, in ``unit``
    n_pixels: int
    flags: int = field(default=0, metadata={"required": True, "default": "0"})  #: DetectionFlag bitmask
    wavelength_um: float | None = None
    # geometry (planetographic °N, west °W)
    lat_deg: float | None = None
    lon_w_deg: float | None = None
    lat_err_deg: float | None = None
    lon_err_deg: float | None = None  #: 1σ in degrees of longitude
    #: correlation of the lat_deg and lon_w_deg errors: with lat_err_deg and lon_err_deg, the 2×2 covariance
    #: of the position (a pointing error mostly along track makes it a thin, tilted ellipse)
    lat_lon_err_corr: float | None = None
    position_err_km: float | None = None
    emission_deg: float | None = None
    emission_err_deg: float | None = None
    incidence_deg: float | None = None
    phase_deg: float | None = None
    range_km: float | None = None
    range_err_km: float | None = None
    pixel_scale_km: float | None = None
    # photometry: the radiance sum is as observed; intensity and power are foreshortening-corrected (÷ cos e).
    # ``_err`` is the random 1σ error (photon noise, fit excess, flat field, geometry: independent between
    # detections, for light curves); ``_sys_err`` the systematic one (calibration, PSF model), correlated
    # between all detections of an instrument (absolute comparisons add both in quadrature). LOWER_LIMIT: the
    # intensity is a lower limit, no errors (ioscan.measure.errors).
    spectral_radiance_sum_w_m2_sr_um: float | None = None
    spectral_intensity_gw_um_sr: float | None = None
    spectral_intensity_err_gw_um_sr: float | None = None
    spectral_power_gw_um: float | None = None  #: π × intensity
    spectral_power_err_gw_um: float | None = None
    spectral_intensity_sys_err_gw_um_sr: float | None = None
    spectral_power_sys_err_gw_um: float | None = None
    extra: dict = field(default_factory=dict, metadata={"json": True})

    @property
    def flag_names(self) -> list[str]:
        return DetectionFlag.names(self.flags)

    def to_record(self) -> dict:
        """A flat dict (JSON-ready) with flag names listed."""
        out = asdict(self)
        out["flag_names"] = self.flag_names
        return out
