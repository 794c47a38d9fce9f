"""Fluxes with the core measured on the frame where detection keeps the instrument model's core.

Where a limb is seen in the image, detection keeps the model's core for the background annuli, the matched
filter, the fits and the spike test (``detect.psf_filter_where_limb_seen`` off: the small annulus sized for
the model's core follows textured sunlit ground better, see :class:`~ioscan.detect.config.DetectConfig`).
Its fits then carry the model's shape into the fluxes: on the independent renderer's sunlit frames without
geometry (a Gaussian core of σ 0.8 px against the JIRAM model's 0.6 px) the fitted net radiance sums were
~20–26 % low at every S/N (they were within ~4 % on the same frames with geometry, where the core is
measured and used).

Here the core is measured on the band's bright isolated sources as where no limb is seen
(:func:`ioscan.detect.psf_estimate.measure_psf`: two sources, or one of S/N ≥ 100; where those are too
few, again with sources near the limb too, each from a fitted S/N of
:data:`~ioscan.detect.psf_estimate.NEAR_LIMB_MIN_SNR`: :func:`core_estimate`) and, where it differs
from the model's, each detection's flux and flux error are divided by the flux the model's fit gives a
noise-free source of unit flux with the measured core, at the detection's position on its background option
(:func:`shape_ratios`: an aperture correction per source, from the two effective PSFs, so it adds no noise
of its own — a ratio of two fits on the data did, +30 % at S/N 5–10). Nothing detection decided (positions,
S/N, flags, χ²) changes; ``extra`` keeps the model fit's flux (``flux_model_psf``) and the measured core
(``flux_psf_core_sigma_px``).

Wherever the core may be measured (with or without a limb), the halo's weight is measured too on the band's
bright isolated detections (:func:`measured_halo`): a measured core keeps the model's other components, so a
source without the model's halo (the renderer's Gaussian) had ~3 % of its flux put into a halo that is not
there. Where the frame's sources weigh it precisely and it differs from the model's, the fluxes take it by
the same shape ratios; the core's width is not touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ioscan.detect.background import BandModel, background_kernel
from ioscan.detect.photometry import effective_psf, fit_radius_px
from ioscan.detect.psf import PsfModel
from ioscan.detect.psf_estimate import NEAR_LIMB_MIN_SNR, SINGLE_SOURCE_SNR, PsfEstimate, measure_psf
from ioscan.detect.psf_halo import halo_component, halo_weight
from ioscan.detect.psf_stack import stacked_width
from ioscan.detect.region import Limb
from ioscan.records import Detection, DetectionFlag


def _enough(est: PsfEstimate | None) -> bool:
    """Two sources, or one of fitted S/N ≥ :data:`SINGLE_SOURCE_SNR`."""
    return est is not None and (est.n_sources >= 2 or est.max_snr >= SINGLE_SOURCE_SNR)


def core_estimate(
    data: np.ndarray, sat_mask, limb_distance_px: np.ndarray | None, near_limb_min_snr: float | None
) -> tuple[PsfEstimate | None, bool]:
    """The core measured on the band's bright isolated sources
    (:func:`ioscan.detect.psf_estimate.measure_psf`) away from the limb: two, or one of fitted S/N ≥
    :data:`SINGLE_SOURCE_SNR`; where those are too few and ``near_limb_min_snr`` is given, again with the
    sources near the limb too, each of them from that fitted S/N (the limb's step spoils the fits it shows
    in, and lowers their S/N). Returns (the estimate or None, whether sources near the limb were taken)."""
    est = measure_psf(data, sat_mask, limb_distance_px, single_source_snr=SINGLE_SOURCE_SNR)
    if _enough(est) or near_limb_min_snr is None or limb_distance_px is None:
        return (est if _enough(est) else None), False
    est = measure_psf(
        data,
        sat_mask,
        limb_distance_px,
        single_source_snr=SINGLE_SOURCE_SNR,
        near_limb_min_snr=near_limb_min_snr,
    )
    return (est, True) if _enough(est) else (None, False)


def measured_core(
    data: np.ndarray,
    sat_mask,
    limb: Limb,
    psf: PsfModel,
    elongation: bool,
    band: str,
    messages: list[str],
    near_limb_min_snr: float | None = NEAR_LIMB_MIN_SNR,
) -> PsfModel | None:
    """``psf`` with the core measured on the band's bright isolated sources (:func:`core_estimate`: away
    from the limb, else with ``near_limb_min_snr`` near it too) where it differs from ``psf``'s; None where
    none is measured or it agrees."""
    est, near = core_estimate(data, sat_mask, limb.distance_px, near_limb_min_snr)
    if est is None:
        return None
    elong = elongation and not est.from_one_faint_source
    if not est.differs_from(psf, elongation=elong):
        return None
    measured = est.applied_to(psf, elongation=elong)
    where = " (near the limb too)" if near else ""
    messages.append(
        f"band {band}: PSF measured on {est.n_sources} sources{where}: core σ "
        f"{measured.core_sigma_px:.2f} px, elongation {measured.elongation:.2f}, taken by the fluxes only "
        f"(the model's {psf.core_sigma_px:.2f} px detects)"
    )
    return measured


def _candidates(detections: Sequence[Detection], line_offset: int):
    """(sample, line in the crop, S/N, usable) of each detection, px: usable ones are not flagged as a
    cosmic-ray hit, an artefact or saturated."""
    bad = DetectionFlag.COSMIC_RAY | DetectionFlag.ARTEFACT | DetectionFlag.SATURATED
    x = np.array([d.sample for d in detections], float)
    y = np.array([d.line - line_offset for d in detections], float)
    snr = np.array([d.snr for d in detections], float)
    cand = np.array([not d.flags & bad for d in detections], bool)
    return x, y, snr, cand


def stacked_core(
    data: np.ndarray,
    sat_mask,
    limb: Limb,
    psf: PsfModel,
    detections: Sequence[Detection],
    line_offset: int,
    band: str,
    messages: list[str],
) -> PsfModel | None:
    """``psf`` with its core's width replaced by the one the band's isolated detections share
    (:func:`ioscan.detect.psf_stack.stacked_width`: unflagged ones away from the limb, each its own
    amplitude, centre and plane; :attr:`~ioscan.detect.psf_stack.StackedWidth.accepted`: an error ≤ 7 %
    and the sources agreeing), where no single source measured it (:func:`measured_core`) and it differs
    from ``psf``'s (its elongation kept: the joint fit is round); else None."""
    x, y, snr, cand = _candidates(detections, line_offset)
    sw = stacked_width(data, sat_mask, limb.distance_px, x, y, snr, cand)
    if sw is None or not sw.accepted:
        return None
    est = PsfEstimate(sw.sigma_px, sw.sigma_px, sw.n_sources)
    if not est.differs_from(psf, elongation=False):
        return None
    # the joint fit is round: the width replaced, the model's elongation kept
    measured = est.applied_to(psf, elongation=False)
    measured = PsfModel(measured.weights, measured.sigmas_px, elongation=psf.elongation)
    messages.append(
        f"band {band}: PSF core σ {measured.core_sigma_px:.2f} px ± {100 * sw.rel_err:.0f} % shared by "
        f"{sw.n_sources} isolated detections (χ² of their agreement {sw.agree_chi2:.1f}), taken by the "
        f"fluxes only (the model's {psf.core_sigma_px:.2f} px detects)"
    )
    return measured


def measured_halo(
    data: np.ndarray,
    sat_mask,
    limb: Limb,
    psf: PsfModel,
    detections: Sequence[Detection],
    line_offset: int,
    band: str,
    messages: list[str],
) -> PsfModel | None:
    """``psf`` (the PSF the fluxes take: the fits' or a measured core's) with its halo's weight the one the
    band's bright isolated detections show (:func:`ioscan.detect.psf_halo.halo_weight`: unflagged ones
    of S/N ≥ :data:`~ioscan.detect.psf_halo.HALO_MIN_SNR` away from the limb, core and halo fitted
    together, the model's halo width), where the measurement is precise and the sources agree
    (:attr:`~ioscan.detect.psf_halo.HaloWeight.accepted`) and it differs from ``psf``'s by more than
    :data:`~ioscan.detect.psf_halo.HALO_CHANGE_SIGMA` errors; else None (also where ``psf`` has no
    halo: :func:`~ioscan.detect.psf_halo.halo_component`)."""
    k = halo_component(psf)
    if k is None:
        return None
    x, y, snr, cand = _candidates(detections, line_offset)
    hw = halo_weight(data, sat_mask, limb.distance_px, x, y, snr, cand, psf.sigmas_px[k])
    if hw is None or not hw.accepted or not hw.differs_from(psf):
        return None
    measured = hw.applied_to(psf)
    messages.append(
        f"band {band}: PSF halo (σ {psf.sigmas_px[k]:.1f} px) weight {hw.weight:.3f} ± {hw.err:.3f} measured "
        f"on {hw.n_sources} detections (the model's {psf.weights[k]:.3f}), taken by the fluxes only"
    )
    return measured


def shape_ratios(
    model: BandModel, x: np.ndarray, y: np.ndarray, k_of: np.ndarray, psf: PsfModel, measured: PsfModel
) -> np.ndarray:
    """Per source at (``x``, ``y``) (the model's crop, px) on background option ``k_of``: the flux a fit of
    ``psf`` gives a noise-free source of unit flux shaped like ``measured``, Σ w Pₘ Pₜ / Σ w Pₘ² of the two
    effective PSFs (:func:`ioscan.detect.photometry.effective_psf`: what the option's background kernel
    leaves of each) with the fit's weights (usable pixels, 1/noise²); 1 where no pixel counts."""
    c = np.ones(len(x))
    r = max(fit_radius_px(psf), fit_radius_px(measured))
    shape = model.usable.shape
    for k, (h0, h1, degree) in enumerate(model.annuli):
        sel = np.flatnonzero(k_of == k)
        if sel.size == 0:
            continue
        kern = background_kernel(h0, h1, degree)
        xs, ys = np.asarray(x, float)[sel], np.asarray(y, float)[sel]
        pm, _, _, li, sj, inside = effective_psf(psf, xs, ys, kern, shape, r, model.clean, derivatives=False)
        pt = effective_psf(measured, xs, ys, kern, shape, r, model.clean, derivatives=False)[0]
        w = np.where(inside & model.usable[li, sj], 1.0 / np.maximum(model.noise[li, sj], 1e-30) ** 2, 0.0)
        num, den = np.sum(w * pm * pt, axis=(1, 2)), np.sum(w * pm * pm, axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = num / den
        c[sel] = np.where((den > 0) & np.isfinite(ratio) & (ratio > 0), ratio, 1.0)
    return c


def apply_shape_ratios(
    detections: list[Detection], peak_of: Sequence[int], ratio: np.ndarray, measured: PsfModel
) -> int:
    """Divide each unsaturated detection's net radiance sum and its error by its peak's :func:`shape_ratios`
    value (``peak_of``: the peak index of each detection); the model fit's flux kept in ``extra``
    (``flux_model_psf``) with the measured core (``flux_psf_core_sigma_px``). Returns how many changed."""
    n = 0
    for det, k in zip(detections, peak_of, strict=True):
        if det.flags & DetectionFlag.SATURATED or ratio[k] == 1.0:
            continue
        det.extra["flux_model_psf"] = det.net_radiance_sum
        det.extra["flux_psf_core_sigma_px"] = measured.core_sigma_px
        det.net_radiance_sum = float(det.net_radiance_sum / ratio[k])
        det.net_radiance_sum_err = float(det.net_radiance_sum_err / ratio[k])
        n += 1
    return n
