"""Navigation of a Frame: per-band backplanes from SPICE, the label, or a limb fit, plus re-registration.

Order of preference: SPICE kernels when given (the normal case for JIRAM), else the product's label/header
geometry. JIRAM frames are then re-registered on Io's limb, since reconstructed pointing can be off by up to
~2° along the spin direction; a frame that cannot be registered keeps its predicted geometry and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ioscan.errors import GeometryError, IoscanError
from ioscan.frame import Frame, LabelGeometry
from ioscan.geometry.backplanes import Backplanes
from ioscan.geometry.camera import DIRECT_VIEW_AXES, PixelAxes

#: JIRAM reconstructed pointing can be off by up to ~2° (~150 px) along the spin direction (DESIGN.md §4)
UNREGISTERED_SPICE_POINTING_ERR_PX = 150.0
#: ground-based header disk centres are typically good to a couple of pixels
UNREGISTERED_LABEL_POINTING_ERR_PX = 2.0
#: systematic floor of a registered pointing, pixels: limb-profile model and pixel sampling; on the simulated
#: campaign, registered 45-50 px disks land 0.1-0.3 px from the truth (limb-fit benchmark)
REGISTERED_POINTING_FLOOR_PX = 0.25


@dataclass
class Navigation:
    """Per-band backplanes of a frame and how they were obtained.

    Attributes:
        backplanes: band → Backplanes.
        source: "spice", "label" or "none" (where the predicted geometry came from).
        registered: True when a limb fit corrected the pointing.
        offset_px: (sample, line) correction applied, pixels.
        offset_err_px: 1σ of that correction, pixels.
        pointing_floor_px: pointing uncertainty that remains whatever the fit says, pixels: the
            translation model's residual after registration (a pointing correction is really a rotation),
            or the known reconstructed-pointing error when a frame could not be registered.
        messages: human-readable notes (why a frame was not registered...).
    """

    backplanes: dict[str, Backplanes] = field(default_factory=dict)
    source: str = "none"
    registered: bool = False
    offset_px: tuple[float, float] = (0.0, 0.0)
    offset_err_px: tuple[float, float] = (0.0, 0.0)
    pointing_floor_px: float = 0.0
    messages: list[str] = field(default_factory=list)


def label_geometry_from_args(args: dict) -> LabelGeometry | None:
    """LabelGeometry from CLI-style keyword values, or None when none were given; error if incomplete."""
    required = (
        "sub_observer_lat_deg",
        "sub_observer_lon_w_deg",
        "range_km",
        "pixel_scale_km",
        "disk_center_sample",
        "disk_center_line",
    )
    given = [k for k in required if args.get(k) is not None]
    if not given:
        return None
    missing = [k for k in required if args.get(k) is None]
    if missing:
        raise GeometryError(f"label geometry incomplete: missing {', '.join(missing)}")
    return LabelGeometry(**{k: float(v) for k, v in args.items() if v is not None})


def backplanes_command(
    *,
    out: Path,
    product: Path | None,
    kernels: Path | None,
    frame_name: str,
    time_utc: str | None,
    band: str | None,
    label_args: dict,
    shape: tuple[int, int],
) -> list[Path]:
    """The work of ``ioscan backplanes``: compute and write FITS files; returns the paths written.

    With a multi-band product, one file per band is written (``OUT`` with ``_<band>`` before the suffix).
    """
    from ioscan.geometry.backplanes import to_fits_hdulist

    results: dict[str, Backplanes] = {}
    if product is not None:
        from ioscan.formats import read_product

        frame = read_product(product)
        nav = navigate_frame(frame, kernels=kernels, register=True)
        results = nav.backplanes if band is None else {band: nav.backplanes[band]}
    elif kernels is not None:
        if time_utc is None:
            raise GeometryError("--time is required with --kernels and no product")
        from ioscan.geometry.spice_provider import SpiceGeometry

        results = {frame_name: SpiceGeometry(kernels).backplanes(time_utc, frame_name)}
    else:
        geom = label_geometry_from_args(label_args)
        if geom is None:
            raise GeometryError("give a product, --kernels with --time, or the label geometry options")
        from ioscan.geometry.label_provider import backplanes_from_label

        results = {"image": backplanes_from_label(geom, shape[1], shape[0], time_utc or "")}
    written = []
    for name, bp in results.items():
        path = out if len(results) == 1 else out.with_name(f"{out.stem}_{name}{out.suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        to_fits_hdulist(bp).writeto(path, overwrite=True)
        written.append(path)
    return written


def navigate_frame(frame: Frame, *, kernels: Path | None = None, register: bool = True) -> Navigation:
    """Backplanes for every band of ``frame`` (see module docstring). Never raises for a frame that simply
    cannot be registered; raises GeometryError for unusable kernels or label geometry."""
    nav = Navigation()
    if kernels is not None and all(b.spice_frame for b in frame.bands.values()):
        from ioscan.geometry.spice_provider import SpiceGeometry

        geo = SpiceGeometry(kernels)
        for name, band in frame.bands.items():
            nav.backplanes[name] = geo.backplanes(frame.time_utc, band.spice_frame)
        nav.source = "spice"
        nav.pointing_floor_px = UNREGISTERED_SPICE_POINTING_ERR_PX
        if register:

            def repointed(off, band_name, anchor):
                w = geo.pointing_correction(frame.time_utc, frame.bands[band_name].spice_frame, anchor, off)
                return {
                    n: geo.backplanes(frame.time_utc, b.spice_frame, pointing_correction_j2000=w)
                    for n, b in frame.bands.items()
                }

            _register(frame, nav, repointed)
    elif frame.label_geometry is not None:
        from ioscan.geometry.label_provider import backplanes_from_label

        def from_label(off=(0.0, 0.0), band_name=None, anchor=None):
            g = frame.label_geometry
            shifted = LabelGeometry(
                **{
                    **g.__dict__,
                    "disk_center_sample": g.disk_center_sample + off[0],
                    "disk_center_line": g.disk_center_line + off[1],
                }
            )
            return {
                n: backplanes_from_label(
                    band_label_geometry(frame, b, shifted),
                    b.shape[1],
                    b.shape[0],
                    frame.time_utc,
                    axes=label_pixel_axes(frame),
                )
                for n, b in frame.bands.items()
            }

        nav.backplanes = from_label()
        nav.source = "label"
        nav.pointing_floor_px = UNREGISTERED_LABEL_POINTING_ERR_PX
        if register:
            _register(frame, nav, from_label)
    else:
        nav.messages.append("no geometry: no kernels given and no label geometry")
    return nav


def band_label_geometry(frame: Frame, band, geom: LabelGeometry) -> LabelGeometry:
    """Label geometry in one band's own pixel frame.

    The label's disk centre is given in the first band's pixels. JIRAM's M band sits 138 detector lines
    (128 L lines + the 10-line gap) below the L band, so in an I1 product the M band sees the disk centre
    138 lines higher up than the L band does.
    """
    if band.line_offset == 0:
        return geom
    from ioscan.instruments import jiram

    detector_offset = band.line_offset + (jiram.GAP_LINES if frame.instrument.upper() == "JIRAM" else 0)
    return LabelGeometry(**{**geom.__dict__, "disk_center_line": geom.disk_center_line - detector_offset})


def label_pixel_axes(frame: Frame) -> PixelAxes:
    """Pixel-axis convention under which a frame's label geometry is read: JIRAM's (mirrored products) for
    JIRAM, a direct view (as ground-based images are displayed) otherwise."""
    if frame.instrument.upper() == "JIRAM":
        from ioscan.instruments import jiram

        return jiram.PIXEL_AXES
    return DIRECT_VIEW_AXES


def psf_sigma_px(frame: Frame, band) -> float:
    """PSF σ in pixels for limb fitting: JIRAM 0.7 px (the 0.6-px core broadened by its 2.5-px wings, which
    blur a limb edge; 0.6 registers the simulated campaign 0.03–0.08 px worse); a diffraction-limited AO
    core 0.42 λ/D otherwise (as ``detect.config.default_psf``)."""
    if frame.instrument.upper() == "JIRAM":
        return 0.7
    from ioscan.instruments import nirc2

    plate_rad = np.radians(
        float(frame.metadata.get("plate_scale_arcsec") or nirc2.PLATE_SCALE_ARCSEC) / 3600.0
    )
    return float(0.42 * band.wavelength_um * 1e-6 / nirc2.KECK_APERTURE_M / plate_rad)


def _limb_anchor(predicted: Backplanes) -> tuple[float, float]:
    """Mean (sample, line) of the predicted limb inside the frame: where a limb fit measures its shift (for a
    close pass the disk centre lies far outside the frame, where a rotation shifts the scene differently)."""
    near = np.abs(predicted["limb_distance_px"]) < 1.5
    if not near.any():
        n_lines, n_samples = predicted.shape
        return (n_samples - 1) / 2.0, (n_lines - 1) / 2.0
    lines, samples = np.nonzero(near)
    return float(samples.mean()), float(lines.mean())


def _register(frame: Frame, nav: Navigation, recompute) -> None:
    """Fit the limb in the band that constrains it best; apply the shared offset to every band."""
    from ioscan.geometry.limbfit import register_frame

    best = None
    for name, band in frame.bands.items():
        try:
            fit = register_frame(band.data, nav.backplanes[name], psf_sigma_px=psf_sigma_px(frame, band))
        except IoscanError as exc:
            nav.messages.append(f"band {name}: {exc}")
            continue
        except (
            ValueError,
            FloatingPointError,
            np.linalg.LinAlgError,
        ) as exc:  # a fit that breaks on odd data
            nav.messages.append(f"band {name}: limb fit failed ({type(exc).__name__}: {exc})")
            continue
        if not fit.ok:
            nav.messages.append(f"band {name}: not registered ({fit.reason})")
            continue
        err = max(fit.offset_err_px)
        if best is None or err < best[0]:
            best = (err, fit, name)
    if best is None:
        return
    _, fit, band_name = best
    offset = (float(fit.offset_sample_px), float(fit.offset_line_px))
    nav.backplanes = recompute(offset, band_name, _limb_anchor(nav.backplanes[band_name]))
    nav.registered = True
    nav.pointing_floor_px = REGISTERED_POINTING_FLOOR_PX
    nav.offset_px = offset
    nav.offset_err_px = tuple(float(e) for e in fit.offset_err_px)
