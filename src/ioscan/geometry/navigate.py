"""Navigation of a Frame: per-band backplanes from SPICE, the label, or a limb fit, plus re-registration.

Order of preference: SPICE kernels when given (the normal case for JIRAM), else the product's label/header
geometry. JIRAM frames are then re-registered on Io's limb, since reconstructed pointing can be off by up to
~2° along the spin direction; a frame that cannot be registered keeps its predicted geometry and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ioscan.errors import IoscanError
from ioscan.geometry.backplanes import Backplanes
from ioscan.instruments import get_instrument
from ioscan.records import Frame, LabelGeometry


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

    @property
    def pointing_error_px(self) -> float:
        """1σ pointing error of the backplanes, pixels: the fit's, or the floor if larger."""
        return max(max(self.offset_err_px), self.pointing_floor_px)

    def nearest_point(self) -> dict[str, float]:
        """Point (planetographic °N, west °W), range (km), scale (km/px) and phase (deg) of the disk pixel
        nearest the observer, in the band that sees most of the disk; empty without a disk in view."""
        if not self.backplanes:
            return {}
        bp = max(self.backplanes.values(), key=lambda b: int(b.on_disk.sum()))
        disk = bp.on_disk
        if not disk.any():
            return {}
        rng = np.where(disk, bp["range_km"], np.inf)
        i = np.unravel_index(np.argmin(rng), rng.shape)
        return {
            "sub_observer_lat_deg": float(bp["lat_deg"][i]),
            "sub_observer_lon_w_deg": float(bp["lon_w_deg"][i]),
            "range_km": float(bp["range_km"][i]),
            "pixel_scale_km": float(bp["pixel_scale_km"][i]),
            "phase_deg": float(bp["phase_deg"][i]),
        }


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
        nav.pointing_floor_px = get_instrument(frame.instrument).pointing_prior("spice").error_px
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
                    axes=get_instrument(frame.instrument).label_axes,
                )
                for n, b in frame.bands.items()
            }

        nav.backplanes = from_label()
        nav.source = "label"
        nav.pointing_floor_px = get_instrument(frame.instrument).pointing_prior("label").error_px
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
    inst = get_instrument(frame.instrument)
    first = min(frame.bands.values(), key=lambda b: b.line_offset)
    lines = inst.band(band.band).first_detector_line - inst.band(first.band).first_detector_line
    detector_offset = lines if lines > 0 else band.line_offset
    return LabelGeometry(**{**geom.__dict__, "disk_center_line": geom.disk_center_line - detector_offset})


def limb_psf_sigma_px(frame: Frame, band) -> float:
    """Gaussian σ (px) that blurs Io's limb in ``band`` (the instrument registry's, for the limb fit)."""
    return get_instrument(frame.instrument).limb_psf_sigma_px(
        band.wavelength_um, plate_scale_arcsec=frame.metadata.get("plate_scale_arcsec")
    )


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
    prior = get_instrument(frame.instrument).pointing_prior(nav.source)
    for name, band in frame.bands.items():
        try:
            fit = register_frame(
                band.data,
                nav.backplanes[name],
                psf_sigma_px=limb_psf_sigma_px(frame, band),
                max_shift_px=prior.search_px(),
                prior_sigma_px=prior.limb_prior_px(),
            )
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
    nav.pointing_floor_px = prior.registered_floor_px
    nav.offset_px = offset
    nav.offset_err_px = tuple(float(e) for e in fit.offset_err_px)
