"""What the catalogue keeps of one product: an :class:`Observation` row and one :class:`BandSummary` per band.

These are the records a scan hands to the catalogue (``ioscan.catalog.store.Store.add_observation``); the
catalogue's ``observations`` and ``frames`` tables are generated from their fields
(:mod:`ioscan.catalog.schema`). Field metadata (``length``, ``text``, ``time``, ``required``, ``unique``,
``default``) tells the schema how to store a field; it has no effect in Python.

Latitudes planetographic °N, longitudes west °W (0–360), times ISO 8601 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GEOMETRY_SOURCES = ("spice", "label", "limbfit", "none")


def _col(**meta) -> dict:
    return {"metadata": meta}


@dataclass
class Observation:
    """One product as stored: identity, time, navigation outcome and the geometry of its nearest disk pixel.

    Attributes:
        product_id: the instrument's product ID as the archive gives it (``JIR_IMG_RDR_2017033T114006_V02``).
        instrument: registry name of the instrument ("JIRAM", "NIRC2").
        time_utc: mid-exposure time, ISO 8601 UTC.
        observer: spacecraft or telescope ("JUNO", "EARTH").
        mode: instrument mode (JIRAM "I1", "I2", "I3").
        orbit: Juno perijove number.
        exposure_s: integration time, s.
        file_path: the product file read (label for PDS3).
        checksum_sha256: checksum of the data file(s).
        base_product_id: the product ID without its version (``JIR_IMG_RDR_2017033T114006``): the versions
            of one product share it, and the catalogue keeps the highest one in force (the others are
            stored, marked superseded).
        product_version: the archive's version of the product (PDS3 PRODUCT_VERSION_ID "02", PDS4
            version_id "1.0"), None when the product has none.
        product_created_utc: when the archive made this version (PDS3 PRODUCT_CREATION_TIME, FITS DATE),
            ISO 8601 UTC; decides between two copies of one version whose data differ.
        sub_observer_lat_deg, sub_observer_lon_w_deg: the disk pixel nearest the observer, °N / °W.
        range_km, pixel_scale_km, phase_deg: at that pixel.
        geometry_source: "spice", "label", "limbfit" or "none".
        status: frame status ("ok", "no_io", "all_nan", "saturated", "no_detections").
        n_detections: detections stored for this product.
        registered: True when the pointing was corrected (limb or known hot spots).
        pointing_offset_sample_px, pointing_offset_line_px: the applied correction (scene shift), px.
        pointing_offset_err_px: 1σ pointing uncertainty after navigation along the worse axis, px.
        coverage_grid: the 2°×2° cells seen (``ioscan.geometry.coverage.encode_grid``).
        registration_method: "limb", "hotspots", "chain" (hot spots of frames registered before) or "none".
        pointing_offset_sample_err_px, pointing_offset_line_err_px, pointing_offset_corr: the covariance of
            the pointing error that remains (1σ along samples and lines, px, and their correlation): the
            registration's, or for an unregistered frame the spread of the pointing it propagated.
        false_match_prob: registration on known hot spots: posterior probability that the match is wrong
            (also stored when a frame was not registered).
        n_anchor_matches: registration on known hot spots: distinct known hot spots matched.
    """

    product_id: str = field(**_col(length=128, required=True))
    instrument: str = field(**_col(length=32, required=True))
    time_utc: str = field(**_col(time=True, required=True))
    observer: str | None = field(default=None, **_col(length=64))
    mode: str | None = field(default=None, **_col(length=32))
    orbit: int | None = None
    exposure_s: float | None = None
    file_path: str | None = field(default=None, **_col(text=True))
    checksum_sha256: str | None = field(default=None, **_col(length=64))
    base_product_id: str | None = field(default=None, **_col(length=128))
    product_version: str | None = field(default=None, **_col(length=16))
    product_created_utc: str | None = field(default=None, **_col(time=True))
    sub_observer_lat_deg: float | None = None
    sub_observer_lon_w_deg: float | None = None
    range_km: float | None = None
    pixel_scale_km: float | None = None
    phase_deg: float | None = None
    geometry_source: str = field(default="none", **_col(length=16, required=True, default="none"))
    status: str = field(default="ok", **_col(length=16, required=True, default="ok"))
    n_detections: int = field(default=0, **_col(required=True, default="0"))
    registered: bool | None = None
    pointing_offset_sample_px: float | None = None
    pointing_offset_line_px: float | None = None
    pointing_offset_err_px: float | None = None
    coverage_grid: str | None = field(default=None, **_col(text=True))
    registration_method: str | None = field(default=None, **_col(length=16))
    pointing_offset_sample_err_px: float | None = None
    pointing_offset_line_err_px: float | None = None
    pointing_offset_corr: float | None = None
    false_match_prob: float | None = None
    n_anchor_matches: int | None = None


@dataclass
class BandSummary:
    """One band of a stored product.

    Attributes:
        band: band name ("L", "M", "Lp", "Ms"...).
        wavelength_um: central wavelength, µm.
        bandwidth_um: filter width used for spectral radiance, µm.
        unit: pixel unit ("W m-2 sr-1" band radiance, "W m-2 sr-1 um-1" spectral radiance).
        saturation: detector saturation level, in ``unit``.
        noise: robust 1σ noise of the background, in ``unit``.
        detection_limit_gw_um_sr: 5σ point-source limit in spectral intensity at the nearest disk pixel
            (normal view), GW µm⁻¹ sr⁻¹.
    """

    band: str = field(**_col(length=16, required=True))
    wavelength_um: float | None = None
    bandwidth_um: float | None = None
    unit: str | None = field(default=None, **_col(length=32))
    saturation: float | None = None
    noise: float | None = None
    detection_limit_gw_um_sr: float | None = None
