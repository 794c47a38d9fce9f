"""Ground-based adaptive-optics Io frames (Keck NIRC2-like) in FITS: reader and writer.

Products: single 2-D images (primary HDU, or the first image extension when the primary is empty), as
flux-calibrated Io frames. Raw NIRC2 headers put both filter wheels in ``FILTER`` (``"Lp + clear"``);
``clear``/``open`` positions are ignored and the remaining name is matched to
:data:`ioscan.instruments.nirc2.FILTERS` (case- and punctuation-insensitive, a few aliases).

Header keywords (standard FITS / NIRC2 where they exist):

* ``DATE-OBS`` — exposure **start**, ISO 8601 UTC (a date-only ``DATE-OBS`` is combined with ``UTC`` or
  ``TIME-OBS``); ``DATE-AVG`` — mid-exposure, written by :func:`write_ground_fits` and preferred by the
  reader; otherwise mid-exposure = start + ``EXPTIME``/2.
* ``EXPTIME`` (s, total), ``ITIME`` (s per coadd), ``COADDS``; ``FILTER``; ``TARGNAME``/``OBJECT``;
  ``TELESCOP``; ``INSTRUME``; ``PIXSCALE`` (arcsec/pixel); ``BUNIT``; ``SATURATE`` (in ``BUNIT``).
* ``BUNIT`` must be a radiance: spectral ``W m-2 sr-1 um-1`` (ioscan's calibrated convention: spectral
  radiance per pixel solid angle) or band ``W m-2 sr-1``; scaled or re-spelled units are converted with
  astropy.units. Uncalibrated frames (counts, DN, no BUNIT) raise ProductError.

Io disk geometry, ioscan keywords (all or none; conventions of :class:`ioscan.records.LabelGeometry`):

=========  =======================================================================================
IO_SOLAT   sub-observer latitude, planetographic °N
IO_SOLON   sub-observer longitude, west °W (0–360)
IO_SSLAT   sub-solar latitude, planetographic °N
IO_SSLON   sub-solar longitude, west °W (0–360)
IO_RANGE   observer – Io centre distance, km
IO_NPA     position angle of Io's north pole, degrees from image up (−line) towards −sample (CCW)
IO_PXKM    pixel scale at the disk centre, km/pixel
IO_CX      disk-centre sample (x), 0-based pixel, centres on integers (FITS CRPIX-style 1-based = +1)
IO_CY      disk-centre line (y), 0-based pixel
=========  =======================================================================================

Byte order: FITS stores big-endian; astropy returns big-endian arrays, which the reader converts to native
float32 (the common "byte-order error with big-endian FITS" cannot reach later stages).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from ioscan.errors import ProductError
from ioscan.formats._common import (
    add_seconds,
    file_checksum_sha256,
    iso_utc,
    parse_utc,
    radiance_unit_and_scale,
)
from ioscan.instruments import Band, Instrument, UnknownInstrumentError, get_instrument, nirc2
from ioscan.records import SPECTRAL_RADIANCE_UNIT, BandImage, Frame, LabelGeometry

GEOMETRY_KEYWORDS: dict[str, str] = {
    "IO_SOLAT": "sub_observer_lat_deg",
    "IO_SOLON": "sub_observer_lon_w_deg",
    "IO_SSLAT": "sub_solar_lat_deg",
    "IO_SSLON": "sub_solar_lon_w_deg",
    "IO_RANGE": "range_km",
    "IO_NPA": "north_pa_deg",
    "IO_PXKM": "pixel_scale_km",
    "IO_CX": "disk_center_sample",
    "IO_CY": "disk_center_line",
}
_GEOMETRY_COMMENTS = {
    "IO_SOLAT": "[deg] sub-observer lat, planetographic N",
    "IO_SOLON": "[deg] sub-observer lon, west",
    "IO_SSLAT": "[deg] sub-solar lat, planetographic N",
    "IO_SSLON": "[deg] sub-solar lon, west",
    "IO_RANGE": "[km] observer - Io centre distance",
    "IO_NPA": "[deg] Io north PA from up toward -x (CCW)",
    "IO_PXKM": "[km/pix] pixel scale at disk centre",
    "IO_CX": "[pix] disk centre x, 0-based",
    "IO_CY": "[pix] disk centre y, 0-based",
}
_IGNORED_WHEEL = {"CLEAR", "OPEN", "HOME", "BLOCK", ""}
_ALIASES = {
    "LPRIME": "Lp",
    "MS": "Ms",
    "MPRIME": "Ms",
    "KCONT": "Kc",
    "BRALPHA": "BrA",
    "BRALPHACONT": "BrA_cont",
    "BRACONT": "BrA_cont",
    "BRA": "BrA",
    "PAH": "PAH",
    "H2OICE": "H2O",
}


def _norm(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", name.upper())


def instrument_from_header(value: str | None, *, where: Path | str = "") -> Instrument:
    """The registered instrument named by an INSTRUME keyword (NIRC2 when the keyword is missing)."""
    try:
        return get_instrument(str(value or "").strip() or "NIRC2")
    except UnknownInstrumentError as exc:
        raise ProductError(f"{Path(where).name}: INSTRUME = {value!r}: {exc}") from None


def filter_from_header(value: str, *, where: Path | str = "", instrument: Instrument | None = None) -> Band:
    """The filter named by a FILTER keyword (``"Lp"``, ``"Lp + clear"``, ``"clear + PAH"``...) among the
    instrument's bands (NIRC2's by default)."""
    bands = (instrument or get_instrument("NIRC2")).bands
    table = {_norm(k): f for k, f in bands.items()}
    named = [p.strip() for p in str(value).split("+") if _norm(p) not in _IGNORED_WHEEL]
    found = []
    for part in named:
        key = _norm(part)
        f = table.get(key) or bands.get(_ALIASES.get(key, ""))
        if f is None:
            raise ProductError(f"{Path(where).name}: unknown filter {part!r} in FILTER = {value!r}")
        found.append(f)
    if len(found) != 1:
        raise ProductError(f"{Path(where).name}: FILTER = {value!r} does not name exactly one filter")
    return found[0]


# ----------------------------------------------------------------------------------------------- writer


def write_ground_fits(
    path: Path,
    *,
    image: np.ndarray,
    filter_name: str,
    date_obs_utc: str,
    exposure_s: float,
    target: str = "IO",
    telescope: str = "Keck II",
    instrument: str = "NIRC2",
    plate_scale_arcsec: float = nirc2.PLATE_SCALE_ARCSEC,
    unit: str = SPECTRAL_RADIANCE_UNIT,
    saturation: float | None = None,
    label_geometry: LabelGeometry | None = None,
    big_endian: bool = True,
    product_id: str | None = None,
    coadds: int = 1,
    extra: dict | None = None,
) -> Path:
    """Write a ground-based frame as a FITS primary image (BITPIX −32).

    Args:
        path: output file (``.fits``; ``.fits.gz`` is gzip-compressed by astropy).
        image: 2-D float32 array (lines × samples) in ``unit``; NaN allowed.
        filter_name: a key of :data:`ioscan.instruments.nirc2.FILTERS` ("Kc", "PAH", "Lp", "Ms"...).
        date_obs_utc: exposure start, ISO 8601 UTC (``DATE-OBS``); ``DATE-AVG`` = start + exposure/2.
        exposure_s: total integration time, s (``EXPTIME``; ``ITIME`` = exposure_s / coadds).
        unit: ``BUNIT``; ioscan's calibrated convention is spectral radiance ``W m-2 sr-1 um-1``.
        saturation: ``SATURATE`` in ``unit``.
        label_geometry: written as the ``IO_*`` keywords (see module docstring).
        big_endian: hand astropy a big-endian array (True) or the native-order array (False): both must
            give the same file, which tests check.
        product_id: ``PRODID`` keyword (default: file name without suffixes).
        extra: further header cards (name → value or (value, comment)).

    Returns:
        ``path``.
    """
    from astropy.io import fits

    path = Path(path)
    img = np.asarray(image)
    if img.dtype.kind != "f" or img.dtype.itemsize != 4 or img.ndim != 2:
        raise ValueError(f"image must be 2-D float32, got {img.dtype} {img.shape}")
    if filter_name not in nirc2.FILTERS:
        raise ValueError(f"unknown NIRC2 filter {filter_name!r}; known: {sorted(nirc2.FILTERS)}")
    start = parse_utc(date_obs_utc, where=path, what="date_obs_utc")
    data = img.astype(">f4" if big_endian else "=f4", copy=False)
    hdu = fits.PrimaryHDU(data=data)
    h = hdu.header
    h["DATE-OBS"] = (iso_utc(start), "UTC start of exposure")
    h["DATE-AVG"] = (iso_utc(add_seconds(start, exposure_s / 2)), "UTC mid-exposure")
    h["EXPTIME"] = (float(exposure_s), "[s] total integration time")
    h["ITIME"] = (float(exposure_s) / coadds, "[s] integration time per coadd")
    h["COADDS"] = (int(coadds), "number of coadds")
    h["FILTER"] = (filter_name, "NIRC2 filter")
    h["TARGNAME"] = (target, "target")
    h["OBJECT"] = (target, "object")
    h["TELESCOP"] = (telescope, "telescope")
    h["INSTRUME"] = (instrument, "instrument")
    h["PIXSCALE"] = (float(plate_scale_arcsec), "[arcsec/pix] plate scale")
    h["BUNIT"] = (unit, "pixel unit")
    if saturation is not None:
        h["SATURATE"] = (float(saturation), "[BUNIT] saturation level")
    h["PRODID"] = (product_id or path.name.split(".")[0], "product ID")
    if label_geometry is not None:
        for key, attr in GEOMETRY_KEYWORDS.items():
            h[key] = (float(getattr(label_geometry, attr)), _GEOMETRY_COMMENTS[key])
    for key, val in (extra or {}).items():
        h[str(key).upper()] = val
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu.writeto(path, overwrite=True)
    return path


# ----------------------------------------------------------------------------------------------- reader


def _image_hdu(hdul, where: Path):
    """The one image HDU with data (primary, or the first image extension if the primary is empty)."""
    cands = [h for h in hdul if h.is_image and h.header.get("NAXIS", 0) > 0]
    if not cands:
        raise ProductError(f"{where.name}: no image data in any HDU")
    return cands[0]


def _time(h, where: Path, exposure_s: float) -> str:
    if "DATE-AVG" in h and "T" in str(h["DATE-AVG"]):
        return iso_utc(parse_utc(h["DATE-AVG"], where=where, what="DATE-AVG"))
    date = h.get("DATE-OBS")
    if date is None or not str(date).strip():
        raise ProductError(f"{where.name}: no DATE-OBS")
    date = str(date).strip()
    if "T" not in date:
        clock = h.get("UTC") or h.get("TIME-OBS")
        if clock is None:
            raise ProductError(f"{where.name}: DATE-OBS {date!r} has no time and no UTC/TIME-OBS keyword")
        date = f"{date}T{str(clock).strip()}"
    return iso_utc(add_seconds(parse_utc(date, where=where, what="DATE-OBS"), exposure_s / 2))


def _geometry(h, where: Path) -> LabelGeometry | None:
    present = [k for k in GEOMETRY_KEYWORDS if k in h]
    if not present:
        return None
    missing = [k for k in GEOMETRY_KEYWORDS if k not in h]
    if missing:
        raise ProductError(f"{where.name}: partial Io geometry: {', '.join(missing)} missing")
    try:
        return LabelGeometry(**{attr: float(h[k]) for k, attr in GEOMETRY_KEYWORDS.items()})
    except (TypeError, ValueError) as exc:
        raise ProductError(f"{where.name}: non-numeric Io geometry keyword ({exc})") from exc


def _identity_fields(header, path: Path) -> tuple[str, str, str | None, str | None]:
    """(product ID, base ID, version, creation time ISO UTC) from ``PRODID`` (else the file name), ``PRODVER``
    (optional) and ``DATE`` (when the file was written)."""
    from ioscan.formats.versions import split_version

    product_id = str(header.get("PRODID") or path.name.split(".")[0])
    version = str(header["PRODVER"]) if header.get("PRODVER") not in (None, "") else None
    base, version = split_version(product_id, version)
    created = None
    date = str(header.get("DATE") or "")
    if "T" in date:
        try:
            created = iso_utc(parse_utc(date, where=path, what="DATE"))
        except ProductError:
            created = None  # only a tie-breaker between two copies of one version: never fatal
    return product_id, base, version, created


def read_fits_identity(path: Path):
    """The :class:`~ioscan.formats.versions.ProductIdentity` of a FITS frame from its primary header (PRODID,
    PRODVER, DATE) and the checksum of the file. Raises ProductError."""
    from astropy.io import fits

    from ioscan.formats.versions import ProductIdentity

    path = Path(path)
    if not path.is_file():
        raise ProductError(f"{path}: FITS file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = fits.getheader(path, 0)
    except Exception as exc:
        raise ProductError(f"{path.name}: not a readable FITS file ({type(exc).__name__}: {exc})") from exc
    product_id, base, version, created = _identity_fields(header, path)
    return ProductIdentity(path, product_id, base, version, created, file_checksum_sha256(path))


def read_ground_fits(path: Path) -> Frame:
    """Read a ground-based FITS frame into a :class:`~ioscan.records.Frame` (observer ``"EARTH"``).

    One band named by the filter (INSTRUME resolved in the instrument registry; NIRC2 when absent), with its
    centre and width from the registry; data as native
    float32 (big-endian input converted; BSCALE/BZERO applied by astropy); a 3-D cube is accepted only when
    exactly one plane is not degenerate. ``checksum_sha256`` is that of the file's bytes.
    """
    from astropy.io import fits

    path = Path(path)
    if not path.is_file():
        raise ProductError(f"{path}: FITS file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False) as hdul:
                hdu = _image_hdu(hdul, path)
                header = hdu.header.copy()
                if hdu is not hdul[0]:  # inherit primary keywords the extension does not repeat
                    for card in hdul[0].header.cards:
                        if card.keyword not in header and card.keyword not in ("", "COMMENT", "HISTORY"):
                            header[card.keyword] = card.value
                raw = hdu.data
    except ProductError:
        raise
    except Exception as exc:
        raise ProductError(f"{path.name}: not a readable FITS file ({type(exc).__name__}: {exc})") from exc
    if raw is None:
        raise ProductError(f"{path.name}: no image data")
    arr = np.asarray(raw)
    if arr.ndim > 2:
        squeezed = arr.squeeze()
        if squeezed.ndim != 2:
            raise ProductError(f"{path.name}: {arr.shape} cube has no single image plane")
        arr = squeezed
    if arr.ndim != 2:
        raise ProductError(f"{path.name}: image has {arr.ndim} dimensions, need 2")
    if arr.dtype.kind not in "fiu":
        raise ProductError(f"{path.name}: image dtype {arr.dtype} is not numeric")
    data = arr.astype(np.float32)  # native byte order, always a copy
    if "FILTER" not in header:
        raise ProductError(f"{path.name}: no FILTER keyword")
    inst = instrument_from_header(header.get("INSTRUME"), where=path)
    filt = filter_from_header(header["FILTER"], where=path, instrument=inst)
    unit, scale = radiance_unit_and_scale(header.get("BUNIT"), where=path, keyword="BUNIT")
    if scale != 1.0:
        data *= np.float32(scale)
    exposure = float(header.get("EXPTIME", header.get("ITIME", 0.0)) or 0.0)
    sat = header.get("SATURATE")
    band = BandImage(
        band=filt.name,
        data=data,
        unit=unit,
        wavelength_um=filt.center_um,
        bandwidth_um=filt.bandwidth_um,
        saturation=None if sat is None else float(sat) * scale,
    )
    product_id, base_id, version, created = _identity_fields(header, path)
    return Frame(
        product_id=product_id,
        instrument=inst.name,
        observer="EARTH",
        time_utc=_time(header, path, exposure),
        exposure_s=exposure,
        bands={filt.name: band},
        label_geometry=_geometry(header, path),
        path=path,
        checksum_sha256=file_checksum_sha256(path),
        metadata={
            "telescope": str(header.get("TELESCOP", "")),
            "target": str(header.get("TARGNAME", header.get("OBJECT", ""))),
            "plate_scale_arcsec": float(header["PIXSCALE"]) if "PIXSCALE" in header else None,
            "filter_keyword": str(header["FILTER"]),
            "bunit": str(header.get("BUNIT")),
            "date_obs": str(header.get("DATE-OBS")),
        },
        base_product_id=base_id,
        product_version=version,
        product_created_utc=created,
    )
