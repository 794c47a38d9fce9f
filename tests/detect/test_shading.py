"""Minnaert shading template of the sunlit disk, and what it does for the background near the bright limb."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect import DetectConfig
from ioscan.detect.background import estimate_background
from ioscan.detect.psf import PsfModel
from ioscan.detect.shading import minnaert_exponent, shading_template
from ioscan.geometry.label_provider import backplanes_from_label
from ioscan.records import LabelGeometry
from ioscan.simulate.sunlit_ground import sunlit_view_geometry


def _geometry(sun_lon_w: float, centre=(216.0, 200.0), range_km: float = 60000.0) -> LabelGeometry:
    return sunlit_view_geometry(range_km, sun_lon_w, *centre)


@pytest.mark.parametrize("k_true", [0.55, 0.8, 1.0])
def test_minnaert_exponent_recovered_from_a_minnaert_disk(k_true):
    bp = backplanes_from_label(_geometry(230.0), 432, 128)
    mu0 = np.cos(np.radians(bp["incidence_deg"]))
    mu = np.cos(np.radians(bp["emission_deg"]))
    lit = bp.on_disk & (mu0 > 0.15) & (mu > 0.15)
    mu0_lit, mu_lit = np.where(lit, mu0, 1.0), np.where(lit, mu, 1.0)
    img = np.where(lit, 0.02 * mu0_lit**k_true * mu_lit ** (k_true - 1.0), 0.0)
    assert minnaert_exponent(img, mu0, mu, lit) == pytest.approx(k_true, abs=1e-6)


def test_no_template_on_the_night_side():
    bp = backplanes_from_label(_geometry(20.0), 432, 128)
    img = np.random.default_rng(0).normal(0.0, 1e-4, (128, 432))
    assert shading_template(img, bp, PsfModel.gaussian(0.6)) is None


def test_shading_makes_the_smooth_sunlit_limb_noise_limited():
    """Smooth sunlit ground (no albedo texture) seen at 60 000 km with its limb: without the template the
    local quadratic background cannot follow the limb and the calibrated scale of the filtered residual there
    is several times the noise (13× within 4 px, 3.7× at 4–8 px when measured); with it, it is close to 1."""
    from ioscan.geometry.label_provider import camera_from_label, pose_from_label
    from ioscan.radiometry.bands import band_response
    from ioscan.simulate.psf import jiram_psf
    from ioscan.simulate.render_jiram import JiramDetector, apply_detector
    from ioscan.simulate.scene import SurfaceModel, surface_radiance_image

    pad = 12
    g, gp = _geometry(210.0), _geometry(210.0, centre=(216.0 + pad, 200.0 + pad))
    psf = jiram_psf()
    raw = surface_radiance_image(
        band_response("JIRAM", "L"),
        camera_from_label(gp, 432 + 2 * pad, 128 + 2 * pad),
        pose_from_label(gp),
        SurfaceModel(seed=3, contrast=0.0),
    )
    surf = psf.convolve(raw)[pad:-pad, pad:-pad]
    img, _ = apply_detector("L", surf, 0.1, JiramDetector(cosmic_rate_per_s=0.0), np.random.default_rng(2))
    bp = backplanes_from_label(g, 432, 128)
    model = PsfModel(psf.weights, psf.sigmas_px)
    d = bp["limb_distance_px"]
    plain = estimate_background(img, psf=model, limb_distance_px=d)
    shaded = estimate_background(img, psf=model, limb_distance_px=d, shading=shading_template(img, bp, model))
    near = plain.usable & (d > 1.5) & (d < 4)
    mid = plain.usable & (d >= 4) & (d < 8)
    assert np.median(plain.scale[near]) > 6 and np.median(plain.scale[mid]) > 2.5
    assert np.median(shaded.scale[near]) < 2.5 and np.median(shaded.scale[mid]) < 1.6
    inner = plain.usable & (d > 20)  # far from the limb both are noise-limited
    assert np.median(shaded.scale[inner]) < 1.25


def test_psf_correlate_compiled_is_scipys():
    """``PsfModel.correlate`` of a 2-D image with ``nearest`` or ``constant`` edges, compiled: scipy's
    correlate1d passes bit for bit (two-component and elongated PSFs, zeros, float32 input, 1 × 1 …
    50 × 60 images)."""
    import numpy as np
    from scipy import ndimage

    from ioscan.detect.psf import PsfModel, kernel1d

    def scipys(psf, image, mode):
        x = np.asarray(image, dtype=float)
        out = np.zeros_like(x)
        for w, s in zip(psf.weights, psf.sigmas_px, strict=True):
            s_l, s_s = psf.axis_sigmas_px(s)
            rows = ndimage.correlate1d(x, kernel1d(s_l), axis=0, mode=mode)
            out += w * ndimage.correlate1d(rows, kernel1d(s_s), axis=1, mode=mode)
        return out

    rng = np.random.default_rng(2)
    models = [
        PsfModel((0.96, 0.04), (0.6, 2.5)),
        PsfModel.gaussian(0.8),
        PsfModel((0.7, 0.3), (1.1, 3.0), elongation=1.6),
    ]
    for t in range(90):
        psf = models[t % 3]
        shape = (int(rng.integers(1, 50)), int(rng.integers(1, 60)))
        img = rng.normal(size=shape) * 10 ** rng.uniform(-3, 3)
        if t % 4 == 0:
            img[rng.random(shape) < 0.3] = 0.0
        if t % 9 == 0:
            img = img.astype(np.float32)
        for mode in ("nearest", "constant"):
            assert psf.correlate(img, mode=mode).tobytes() == scipys(psf, img, mode).tobytes(), (t, mode)


def _renderer_disk(k: float, range_km: float = 60_000.0):
    """A sunlit disk of the independent renderer (Minnaert k, cos e floored at 0.2, 3 × 3 sub-pixels, Gaussian
    PSF), its albedo texture off: the image, its noiseless sunlit part, its own exact backplanes, its PSF."""
    import dataclasses

    from ioscan.simulate.independent import draw_scene, render_scene
    from ioscan.simulate.independent.surface import Photometry
    from ioscan.simulate.independent_backplanes import truth_backplanes

    params = draw_scene(np.random.default_rng(7), kind="day", mode="I2", range_km=range_km)
    params = dataclasses.replace(params, albedo_contrast=1e-9, photometry=Photometry(minnaert_k=k))
    rendered = render_scene(params)
    band = rendered.bands["M"]
    psf = PsfModel.gaussian(float(np.sqrt(params.psf.sigma_sample_px * params.psf.sigma_line_px)))
    return np.asarray(band.image, float), band.sunlit, truth_backplanes(params.view, "M"), psf


def _limb_error(template: np.ndarray, truth: np.ndarray, bp) -> float:
    """90th percentile of |template − truth| within 0–3 px inside the limb (sunlit, μ₀ > 0.3), the template
    scaled to the truth 8–14 px inside, relative to the truth's level there."""
    d = bp["limb_distance_px"]
    mu0 = np.cos(np.radians(bp["incidence_deg"]))
    ref = bp.on_disk & (d > 8) & (d < 14) & (mu0 > 0.3)
    level = float(np.median(truth[ref]))
    scale = level / float(np.median(template[ref]))
    near = bp.on_disk & (d >= 0) & (d < 3) & (mu0 > 0.3)
    return float(np.percentile(np.abs(template[near] * scale - truth[near]), 90)) / level


@pytest.mark.parametrize("k", [0.6, 1.0])
def test_fitted_law_follows_a_foreign_limb(k):
    """On the independent renderer's limb (its own law: cos e floored at 0.2, the edge integrated over
    sub-pixels) the pixel-centre Minnaert template is 8–50 % of the disk's level off within 3 px of the limb;
    the law fitted to the image (μ floor, sub-pixel edges: ``fit_law="subpixel"``) follows it to a few %."""
    from ioscan.detect.shading import shading_template

    img, truth, bp, psf = _renderer_disk(k)
    plain = shading_template(img, bp, psf)
    fitted = shading_template(img, bp, psf, fit_law="subpixel")
    assert plain is not None and fitted is not None
    assert _limb_error(plain, truth, bp) > 0.06
    assert _limb_error(fitted, truth, bp) < 0.5 * _limb_error(plain, truth, bp)
    assert _limb_error(fitted, truth, bp) < 0.05


#: the project's simulator's sunlit disks of ``simulator_sunlit_disk``: range (km) → the disk centre (px)
SIMULATOR_DISK_CENTRES = {60000.0: (216.0, 200.0), 250000.0: (216.0, 64.0)}


def simulator_sunlit_disk(range_km: float):
    """The project's simulator's sunlit M-band frame (432 × 128 px, albedo texture and two dark spots to the
    limb, no cosmic rays) at ``range_km`` (60,000 km: a near disk of radius ~120 px; 250,000 km: a far one of
    ~30 px): (image, its backplanes, the JIRAM PSF as a :class:`PsfModel`)."""
    from ioscan.geometry.label_provider import camera_from_label, pose_from_label
    from ioscan.radiometry.bands import band_response
    from ioscan.simulate.psf import jiram_psf
    from ioscan.simulate.render_jiram import JiramDetector, apply_detector
    from ioscan.simulate.scene import SurfaceModel, surface_radiance_image

    psf = jiram_psf()
    pad, centre = 12, SIMULATOR_DISK_CENTRES[range_km]
    g = sunlit_view_geometry(range_km, 210.0, *centre)
    gp = sunlit_view_geometry(range_km, 210.0, centre[0] + pad, centre[1] + pad)
    raw = surface_radiance_image(
        band_response("JIRAM", "M"),
        camera_from_label(gp, 432 + 2 * pad, 128 + 2 * pad),
        pose_from_label(gp),
        SurfaceModel(seed=3, contrast=0.35, dark_spots=((10, 210, 4.0), (-20, 240, 6.0))),
    )
    surf = psf.convolve(raw)[pad:-pad, pad:-pad]
    img, _ = apply_detector("M", surf, 0.1, JiramDetector(cosmic_rate_per_s=0.0), np.random.default_rng(2))
    return img, backplanes_from_label(g, 432, 128), PsfModel(psf.weights, psf.sigmas_px)


def test_fitted_law_keeps_the_simulators_own_law():
    """On the project's simulator (its surface follows the template's pixel-centre law, with albedo
    texture and dark spots) the fitted law changes nothing: the template is the plain one, bit for bit."""
    for range_km in SIMULATOR_DISK_CENTRES:
        img, bp, model = simulator_sunlit_disk(range_km)
        plain = shading_template(img, bp, model)
        assert plain is not None
        assert np.array_equal(shading_template(img, bp, model, fit_law="subpixel"), plain)


def test_law_test_blurs_only_what_the_zone_reads():
    """:func:`law_differs` makes each law on the limb zone's pixels and those within the blur's reach of
    them (a Chebyshev neighbourhood of :func:`blur_reach_px`): the blurred template on the zone is the whole
    window's, bit for bit, for the JIRAM PSF (0.6 + 2.5 px) and the renderer's Gaussian alike; a
    neighbourhood short of the kernels' own radius (the reach less its 2 px of margin) is not."""
    from scipy import ndimage

    from ioscan.detect.shading import FLOOR_ZONE_PX, blur_reach_px, blur_support, sunlit_mask

    img, _, bp, gauss = _renderer_disk(0.7)
    jiram = DetectConfig().psf_for("M", "JIRAM", 4.78)
    mu0 = np.cos(np.radians(bp["incidence_deg"]))
    lit = sunlit_mask(bp)
    raw = np.where(lit, np.clip(mu0, 0, None), 0.0) ** 0.7
    zone = lit & (np.nan_to_num(bp["limb_distance_px"], nan=-1.0) < FLOOR_ZONE_PX) & (mu0 > 0.2)
    assert zone.sum() > 50
    for psf in (jiram, gauss):
        full = blur_support(raw, lit, psf)
        for reach, exact in ((blur_reach_px(psf), True), (blur_reach_px(psf) - 3, False)):
            ring = ndimage.maximum_filter(zone.view(np.uint8), size=2 * reach + 1, mode="constant").view(bool)
            part = blur_support(np.where(ring, raw, 0.0), lit & ring, psf)
            assert np.array_equal(part[zone], full[zone]) is exact, (psf.sigmas_px, reach)


def test_subpixel_law_on_the_support_alone_is_the_whole_windows():
    """The sub-pixel law read at the support's pixels and their neighbours alone (:func:`_subpixel_geometry`:
    gradients as ``np.gradient``'s, μ₀ carried beyond the disk from the nearest disk pixel) equals a plain
    whole-window evaluation (Euclidean distance transform, ``np.gradient``, 3 × 3 sub-pixels) to rounding."""
    from scipy import ndimage

    from ioscan.detect.shading import SUBPIXEL_OFFSETS, _subpixel_geometry, _subpixel_law, sunlit_mask

    _, _, bp, _ = _renderer_disk(0.7)
    dd = np.nan_to_num(bp["limb_distance_px"], nan=-1.0)
    on = sunlit_mask(bp)
    sub = _subpixel_geometry(bp, (slice(None), slice(None)), dd, on)
    inc, emi = bp["incidence_deg"], bp["emission_deg"]
    disk = np.isfinite(inc) & np.isfinite(emi)
    idx = ndimage.distance_transform_edt(~disk, return_distances=False, return_indices=True)
    mu0 = np.cos(np.radians(inc))[tuple(idx)]
    g0l, g0s = np.gradient(mu0)
    gdl, gds = np.gradient(dd)
    mu = np.cos(np.radians(emi))
    near = ndimage.binary_dilation(on, np.ones((3, 3), bool)) & disk & (dd > 1) & (dd < 6) & (mu < 0.9)
    radius = float(np.median(dd[near] / (1.0 - np.sqrt(1.0 - mu[near] ** 2))))
    for k, floor in ((0.7, 0.03), (0.6, 0.3)):
        ref = np.zeros(dd.shape)
        for dl in SUBPIXEL_OFFSETS:
            for ds in SUBPIXEL_OFFSETS:
                d_sub = dd + dl * gdl + ds * gds
                m0 = mu0 + dl * g0l + ds * g0s
                x = np.clip(1.0 - d_sub / radius, 0.0, 1.0)
                m = np.where((dd < 6.0) | ~np.isfinite(mu), np.sqrt(np.maximum(1.0 - x * x, 0.0)), mu)
                ok = (d_sub > 0.0) & (m0 > 0.0)
                with np.errstate(invalid="ignore"):
                    v = np.maximum(m0, 0.0) ** k * np.maximum(m, max(floor, 1e-3)) ** (k - 1.0)
                ref += np.where(ok & sub["support"], v, 0.0)
        ref /= len(SUBPIXEL_OFFSETS) ** 2
        got = _subpixel_law(sub, k, floor)
        assert np.allclose(got, ref, rtol=1e-12, atol=1e-14)


def test_law_test_decides_as_the_template_fit():
    """The foreign law's test (:func:`law_differs`) on the independent renderer's limb (its own law: cos e
    floored at 0.2, the edge integrated over sub-pixels) finds another law, and names the deciding candidate;
    on the project's simulator's near and far disks (the template's own law, texture and dark spots to the
    limb) it does not; on the night side it makes no test."""
    from ioscan.detect.shading import law_differs

    for k in (0.6, 1.0):
        img, _, bp, psf = _renderer_disk(k)
        won: list = []
        assert law_differs(img, bp, psf, winner=won) is True
        assert len(won) == 1 and 0.3 < won[0][1] < 1.3
    for range_km in SIMULATOR_DISK_CENTRES:
        img, bp, model = simulator_sunlit_disk(range_km)
        assert law_differs(img, bp, model) is False
    bp = backplanes_from_label(_geometry(20.0), 432, 128)
    assert law_differs(np.ones((128, 432)), bp, PsfModel.gaussian(0.8)) is None
