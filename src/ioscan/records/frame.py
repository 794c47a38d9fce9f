"""The Frame: what every reader returns and every later stage consumes.

Pixel values are kept as the product gives them, with their unit named. Two radiance kinds exist:

* ``"W m-2 sr-1"`` — *band* radiance, integrated over the filter (JIRAM RDRs, per the JIRAM SIS §4.2);
* ``"W m-2 sr-1 um-1"`` — *spectral* radiance (ground-based frames after flux calibration, expressed per
  pixel solid angle so that one photometric formula serves both).

:meth:`BandImage.spectral_radiance_w_m2_sr_um` is the one documented place that converts band radiance to
spectral radiance (divide by the filter's bandwidth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BAND_RADIANCE_UNIT = "W m-2 sr-1"
SPECTRAL_RADIANCE_UNIT = "W m-2 sr-1 um-1"


@dataclass
class BandImage:
    """One band of a frame.

    Attributes:
        band: band name ("L", "M" for JIRAM; "Lp", "Ms", "Kc", "PAH"... for NIRC2).
        data: 2-D float32 array (lines × samples) in ``unit``; NaN marks missing pixels.
        unit: ``BAND_RADIANCE_UNIT`` or ``SPECTRAL_RADIANCE_UNIT``.
        wavelength_um: central wavelength, µm.
        bandwidth_um: filter width used to convert band to spectral radiance, µm.
        saturation: value (in ``unit``) at which the detector saturates, or None if unknown.
        line_offset: first product line of this band (I1 M band: 128), for reporting positions
            in the product's own orientation.
        spice_frame: SPICE instrument frame of this band (e.g. ``JUNO_JIRAM_I_MBAND``), if any.
    """

    band: str
    data: np.ndarray
    unit: str
    wavelength_um: float
    bandwidth_um: float
    saturation: float | None = None
    line_offset: int = 0
    spice_frame: str | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape  # type: ignore[return-value]

    def spectral_radiance_w_m2_sr_um(self) -> np.ndarray:
        """Pixel values as spectral radiance, W m⁻² sr⁻¹ µm⁻¹ (band radiance ÷ bandwidth)."""
        if self.unit == SPECTRAL_RADIANCE_UNIT:
            return self.data
        if self.unit == BAND_RADIANCE_UNIT:
            return self.data / np.float32(self.bandwidth_um)
        raise ValueError(f"unknown radiance unit {self.unit!r} in band {self.band}")


@dataclass
class LabelGeometry:
    """Disk geometry as a ground-based FITS header or a JIRAM label gives it.

    Latitudes planetographic °N, longitudes west °W (0–360). ``north_pa_deg`` is the position angle of
    Io's north pole measured from the image's "up" (−line direction) towards −sample ("left"),
    i.e. counter-clockwise on the displayed image, the astronomical convention for an image with
    north up and east left. Pixel coordinates are 0-based with pixel centres at integers, in the frame of
    the product's first band; a later band of a multi-band detector (JIRAM I1's M band) is displaced by its
    detector line offset (see ``ioscan.geometry.navigate.band_label_geometry``).
    """

    sub_observer_lat_deg: float
    sub_observer_lon_w_deg: float
    sub_solar_lat_deg: float
    sub_solar_lon_w_deg: float
    range_km: float
    north_pa_deg: float
    pixel_scale_km: float
    disk_center_sample: float
    disk_center_line: float


@dataclass
class Frame:
    """One observation as read from a product.

    Attributes:
        product_id: the instrument's product ID (e.g. ``JIR_IMG_RDR_2022063T083455_V01``).
        instrument: "JIRAM", "NIRC2", ...
        observer: SPICE name of the observer ("JUNO", "EARTH", or an observatory name).
        time_utc: mid-exposure time, ISO 8601 UTC string.
        exposure_s: integration time, s.
        bands: band name → :class:`BandImage`.
        mode: instrument mode (JIRAM "I1", "I2", "I3"), or None.
        orbit: Juno perijove number, or None.
        label_geometry: geometry given by the label/header, or None.
        path: product file (label for PDS3), or None for in-memory frames.
        checksum_sha256: checksum of the data file(s), used to skip re-scans.
        metadata: anything else worth keeping (label keywords...).
        base_product_id: the product ID without its version (None: the same as ``product_id``).
        product_version: the archive's version of the product (PDS3 PRODUCT_VERSION_ID), or None.
        product_created_utc: when the archive made this version (ISO 8601 UTC), or None.
    """

    product_id: str
    instrument: str
    observer: str
    time_utc: str
    exposure_s: float
    bands: dict[str, BandImage]
    mode: str | None = None
    orbit: int | None = None
    label_geometry: LabelGeometry | None = None
    path: Path | None = None
    checksum_sha256: str | None = None
    metadata: dict = field(default_factory=dict)
    base_product_id: str | None = None
    product_version: str | None = None
    product_created_utc: str | None = None

    @property
    def band_names(self) -> list[str]:
        return list(self.bands)
