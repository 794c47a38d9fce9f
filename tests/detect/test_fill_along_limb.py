"""The outlier fill's error near a sunlit limb (issue 14): copies of a bright source's hole along the limb.

Truth the term did not make: the independent renderer's sunlit M frames (its own surface, limb, shading and
PSF), sources injected 3–15 px inside the limb with its PSF at known fluxes onto the rendered image (the same
noise draw with and without the copies along the limb), fitted by ``detect_band`` with the renderer's PSF
given. Seed 23 was not used while the copies were designed (seed 11 was).
"""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect import photometry
from ioscan.detect.band import detect_band
from ioscan.detect.config import DetectConfig
from ioscan.records import BandImage
from ioscan.robust import mad_sigma
from ioscan.simulate.independent import draw_scene, render_scene
from ioscan.simulate.independent_backplanes import truth_backplanes


def _injected(n_frames: int, seed: int, snrs: tuple[float, ...], along_limb_px: tuple[float, ...]) -> dict:
    """Per ``detect.fill_along_limb_px`` and S/N: (fitted − injected) / fit error and / (fit error ⊕ fill
    error) of sources 3–15 px inside the limb of sunlit M frames (each frame rendered once for them all)."""
    rng = np.random.default_rng(seed)
    out: dict = {a: {s: ([], []) for s in snrs} for a in along_limb_px}
    for i in range(n_frames):
        scene = draw_scene(rng, kind="day", mode="I2")
        rend = render_scene(scene)
        rb = rend.bands["M"]
        bp = truth_backplanes(scene.view, "M")
        ld = bp["limb_distance_px"]
        t = rend.truth
        pick = np.random.default_rng(1000 + i)
        cand = np.argwhere((ld >= 3) & (ld < 15) & (rb.sunlit > 0))
        cand = cand[(cand[:, 0] >= 8) & (cand[:, 0] < 120) & (cand[:, 1] >= 8) & (cand[:, 1] < 424)]
        pick.shuffle(cand)
        pos: list[tuple[float, float]] = []
        for ln, s in cand:
            if any(np.hypot(ln - a, s - b) < 22 for a, b in pos):
                continue
            if len(t) and np.min(np.hypot(t["line"].to_numpy() - ln, t["sample"].to_numpy() - s)) < 10:
                continue
            pos.append((ln + pick.uniform(-0.5, 0.5), s + pick.uniform(-0.5, 0.5)))
            if len(pos) == 4:
                break
        for along in along_limb_px:
            _fit_injected(scene, rb, bp, pos, snrs, along, out[along])
    return out


def _fit_injected(scene, rb, bp, pos, snrs: tuple[float, ...], along_limb_px: float, out: dict) -> None:
    """Sources injected at ``pos`` (line, sample; px) into the rendered band ``rb`` at each S/N, fitted with
    ``detect.fill_along_limb_px`` = ``along_limb_px`` (px): their pulls appended to ``out[snr]``."""
    # 0: the rings' copies only; the shading template's path the copies were measured on (with
    # detect.shading_foreign_law, on since shadelaw, most of these bands take the image's own disk model:
    # seed 23 with the copies 1.23 → 1.08 at S/N 300, 0.146 off, not the 0.15 asked here; 1.70 → 1.07 at
    # 1,000; here 1.34 → 0.99 and 1.40 → 0.88)
    cfg = DetectConfig(psf=0.8, fill_along_limb_px=along_limb_px, shading_foreign_law=False)
    for snr in snrs:
        img = rb.image.astype(np.float64).copy()
        fluxes = []
        for ln, s in pos:
            _, _, st = scene.psf.stamp(s, ln)
            f = snr * rb.sigma[int(round(ln)), int(round(s))] / np.sqrt(np.sum(st**2))
            scene.psf.add_sources(img, [s], [ln], [f])
            fluxes.append(f)
        band = BandImage(band="M", data=img.astype(np.float32), unit="W/(m^2*sr)", wavelength_um=4.78,
                         bandwidth_um=0.4975)  # fmt: skip
        dets = detect_band(band, bp, instrument="JIRAM", config=cfg).detections
        for (ln, s), f in zip(pos, fluxes, strict=True):
            dist = [np.hypot(d.sample - s, d.line - ln) for d in dets]
            if not dist or min(dist) > 1.5:
                continue
            d = dets[int(np.argmin(dist))]
            fill = float(np.nan_to_num(d.extra["fill_flux_err"]))
            err = d.net_radiance_sum - f
            out[snr][0].append(err / d.net_radiance_sum_err)
            out[snr][1].append(err / np.hypot(d.net_radiance_sum_err, fill))


@pytest.mark.parametrize("seed", [23])
def test_copies_along_the_limb_bring_near_limb_pulls_towards_one(seed):
    """Measured (seed 23, 40 frames, 99 sources per S/N 300 / 1,000): pulls over the fit error alone 2.86 /
    3.88, with the rings' fill term 1.49 / 1.56, with the copies along the limb too 1.24 / 1.16 (the seed
    the copies were designed on, 11: 3–20 px inside the limb 0.96–1.08 at S/N 300–1,000). The robust std of
    ~100 pulls scatters by ~0.09: the copies must take at least 0.15 off and leave ≤ 1.3."""
    snrs = (300.0, 1000.0)
    pulls = _injected(40, seed, snrs, (0.0, photometry.FILL_ALONG_LIMB_PX))
    rings, along = pulls[0.0], pulls[photometry.FILL_ALONG_LIMB_PX]
    for snr in snrs:
        fit_only, ring_pull = (np.asarray(a) for a in rings[snr])
        along_pull = np.asarray(along[snr][1])
        assert along_pull.size >= 80
        assert mad_sigma(fit_only) > 2.0  # the fill's miss is there
        assert 0.8 <= mad_sigma(along_pull) <= 1.3
        assert mad_sigma(along_pull) < mad_sigma(ring_pull) - 0.15


def test_along_limb_centres_lie_at_the_source_limb_distance():
    """A straight limb drawn here (distance = a linear function of the pixel, 30° to the lines): every copy
    centre is at the source's distance to 0.5 px, inside the crop by the window's half-size, none twice,
    nearest first, at least 2e + 2 px away, and on both sides of the source along the limb."""
    nl, ns = 128, 432
    ll, ss = np.mgrid[0:nl, 0:ns].astype(float)
    t = np.radians(30.0)
    dist = (ll - 64.0) * np.cos(t) - (ss - 200.0) * np.sin(t)
    ci, cj, e, pad = 70, 210, 3, 11
    li, sj = photometry._along_limb_centres(dist, ci, cj, e, pad)
    assert li.size >= photometry.FILL_MIN_SHIFTS
    assert np.all(np.abs(dist[li, sj] - dist[ci, cj]) <= photometry.FILL_LIMB_TOLERANCE_PX)
    assert np.all((li >= pad) & (li < nl - pad) & (sj >= pad) & (sj < ns - pad))
    assert len(set(zip(li.tolist(), sj.tolist(), strict=True))) == li.size
    rho = np.hypot(li - ci, sj - cj)
    assert np.all(rho >= 2 * e + 2 - 1) and np.all(np.diff(rho) >= -1.5)  # ring by ring (rounded)
    along = (sj - cj) * np.cos(t) + (li - ci) * np.sin(t)
    assert (along > 0).any() and (along < 0).any()
