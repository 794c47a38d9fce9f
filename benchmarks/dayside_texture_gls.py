"""The texture GLS (benchmarks/texture_gls.py) as realisable estimators of ``bench_dayside_bound.py``.

``texgls_w<W>``: the texture's surface spectrum learned from the frame, one per zone of cos e
(:func:`learn_zone_spectra`: the disk model absorbs the texture differently in each); ``texgls_told_w<W>``:
the same filter told the texture's statistics instead (the renderer's albedo law: ``TOLD_MAPS`` re-drawn
maps' plane waves, isotropic, with the frame's contrast, on the surface grid) — the split says whether a
shortfall is the learned covariance's or the rest's (disk model, noise estimate, geometry, nuisances). Both
on the image less a disk model (:func:`fit_disk_model` from the limb ioscan's :func:`find_limb` finds,
knots ``KNOT_PX`` apart), noise σ from that fit, the true PSF at 9 phases; NaN where no limb was found or no
spectrum learned (too few pixels on the disk in view). The maps are calibrated as the bench's others
(``calibrated``). The CPU time of the learning (with the disk model's fit) and of the bank per frame are
printed to stderr.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from ioscan.detect.disk_model import fit_disk_model
from ioscan.simulate.independent.surface import random_albedo_map
from texture_gls import (
    K_STEP_RAD_PX,
    DiskCircle,
    learn_zone_spectra,
    spectrum_from_grid,
    texture_gls_maps,
)

#: the filters' window, px
WINDOWS_PX = (15, 21)
#: the disk model's knot spacing, px, and its limb term's (None: none); env TEXGLS_KNOT_PX and
#: TEXGLS_LIMB_KNOT_PX ("none") override them. ioscan's (6, 6) was best on 12 sunlit frames: coarser
#: surfaces (24 px) leave more texture in the residual than the learned covariance then nulls
KNOT_PX = float(os.environ.get("TEXGLS_KNOT_PX", 6.0))
_LIMB = os.environ.get("TEXGLS_LIMB_KNOT_PX", "6")
LIMB_KNOT_PX = None if _LIMB == "none" else float(_LIMB)
#: env TEXGLS_TRUSTED=1: only where the disk model is trusted (else the model is used as fitted)
REQUIRE_TRUSTED = os.environ.get("TEXGLS_TRUSTED", "0") == "1"
#: re-drawn albedo maps of the told statistics
TOLD_MAPS = 128
GRID_HALF = 24


def told_spectrum(rendered, rng: np.random.Generator):
    """The relative texture's surface spectrum from the renderer's albedo law (told, not learned): plane
    waves of TOLD_MAPS re-drawn maps (isotropic: two components of each 3-D wavevector), each map's power
    contrast² × amplitude² / Σ amplitude², averaged, on the learned spectrum's grid."""
    p = rendered.params
    n = 2 * GRID_HALF + 1
    grid = np.zeros((n, n))
    contrast = rendered.albedo.contrast
    for _ in range(TOLD_MAPS):
        m = random_albedo_map(rng, pixel_scale_km=p.view.pixel_scale_km,
                              min_wavelength_px=p.albedo_min_wavelength_px)  # fmt: skip
        k_px = m.wavevectors_rad_km[:, :2] * p.view.pixel_scale_km
        w = contrast**2 * m.amplitudes**2 / np.sum(m.amplitudes**2)
        ix = np.rint(k_px[:, 0] / K_STEP_RAD_PX).astype(int) + GRID_HALF
        iy = np.rint(k_px[:, 1] / K_STEP_RAD_PX).astype(int) + GRID_HALF
        ok = (ix >= 0) & (ix < n) & (iy >= 0) & (iy < n)
        np.add.at(grid, (iy[ok], ix[ok]), 0.5 * w[ok])
        np.add.at(grid, (2 * GRID_HALF - iy[ok], 2 * GRID_HALF - ix[ok]), 0.5 * w[ok])
    return spectrum_from_grid(grid / TOLD_MAPS, K_STEP_RAD_PX, 0.995, 150)


def texture_gls_estimators(rendered, image, saturated, circle, frame_no: int, psf_kernels, calibrated,
                           classes) -> dict[str, np.ndarray]:  # fmt: skip
    """name → calibrated S/N map of each texture-GLS estimator (module docstring)."""
    out = {}
    for w in WINDOWS_PX:
        out[f"texgls_w{w}"] = np.full(image.shape, np.nan)
        out[f"texgls_told_w{w}"] = np.full(image.shape, np.nan)
    if circle is None:
        return out
    t0 = time.process_time()
    fit = fit_disk_model(image, circle.center_sample, circle.center_line, circle.radius_px, mask=saturated,
                         knot_px=KNOT_PX, limb_knot_px=LIMB_KNOT_PX)  # fmt: skip
    if REQUIRE_TRUSTED and not fit.trusted():
        return out
    disk_circle = DiskCircle(fit.center_sample, fit.center_line, fit.radius_px)
    disk = fit.disk
    residual = image - fit.model
    noise_var = fit.sigma**2
    on = disk > 0.2 * np.percentile(disk[disk > 0], 90) if (disk > 0).any() else disk > 0
    usable = on & ~fit.clipped & ~saturated
    texture = np.where(on, residual / np.where(on, disk, 1.0), 0.0)
    learned = learn_zone_spectra(texture, noise_var / np.where(on, disk, 1.0) ** 2, usable, disk_circle)
    t_learn = time.process_time() - t0
    told = told_spectrum(rendered, np.random.default_rng(10_000 + frame_no))
    for w in WINDOWS_PX:
        kernels = psf_kernels(rendered, "true", w)
        for name, spec in ((f"texgls_w{w}", learned), (f"texgls_told_w{w}", told)):
            if not spec:
                continue
            t1 = time.process_time()
            m = texture_gls_maps(residual, disk, fit.sigma, disk_circle, spec, kernels)
            out[name] = calibrated(m.centred, m.best, classes)
            if name.startswith("texgls_w"):
                t_bank = time.process_time() - t1
                print(f"texgls frame {frame_no}: learn {t_learn:.2f} s + bank {t_bank:.2f} s CPU, "
                      f"zones {len(spec)}, var {[round(z.variance, 7) for _, z in spec]} "
                      f"(told {told.variance:.4g})",
                      file=sys.stderr)  # fmt: skip
    return out
