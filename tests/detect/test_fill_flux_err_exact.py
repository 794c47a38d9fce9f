"""fill_flux_err made cheaper (issue 15) gives the same values as before: today's version is kept here as
``_fill_flux_err_reference`` and both are run on the same calls (every call detection makes, the band model,
positions and PSF as detection passes them) on the pinned frames of ``test_detect_pinned.py`` (both
renderers, with and without geometry) and on the simulator's sunlit ground with bright sources injected.

The box means of the fill are summed in another order (one summed-area table over the region all copies'
windows cover, each copy's own hole taken out by a sum over the hole, instead of running sums over each
copy's window) and the PSF weights are spread by the kernel by a direct sum at the hole pixels instead of
``ndimage.convolve``: not bit for bit, so values are compared to 1e-12 relative (measured: ≤ 2.3e-14
on the pinned frames), nan where nan and 0 where 0."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ioscan.detect import band as band_mod
from ioscan.detect.background import BandModel, background_kernel
from ioscan.detect.photometry import FILL_MIN_SHIFTS, FILL_SHIFT_ANGLES, fill_flux_err, fit_radius_px
from ioscan.detect.psf import PsfModel

REL_TOL = 1e-12


def _fill_flux_err_reference(model: BandModel, x: np.ndarray, y: np.ndarray, psf: PsfModel) -> np.ndarray:
    """fill_flux_err as it was at 20f95ad (main's HEAD when issue 15's speed work on it began)."""
    n = len(x)
    out = np.zeros(n)
    if not n:
        return out
    unclean = model.usable & ~model.clean
    if not unclean.any():
        return out
    nl, ns = unclean.shape
    stack = np.stack(model.residuals)
    data = model.background + np.take_along_axis(stack, model.choice[None].astype(np.intp), 0)[0]
    data = np.where(model.usable, data, 0.0).astype(np.float64)
    r = fit_radius_px(psf)
    m = 2 * r + 1
    # the fill takes the clean pixels of the source's own region: with a limb, its side of it
    side = None if model.limb_distance_px is None else model.limb_distance_px > 0
    stamp_l, stamp_s = (g.ravel() for g in np.mgrid[-r : r + 1, -r : r + 1])  # a stamp's offsets
    for i in range(n):
        if not (np.isfinite(x[i]) and np.isfinite(y[i])):
            out[i] = np.nan
            continue
        ci, cj = int(np.rint(y[i])), int(np.rint(x[i]))
        if not (0 <= ci < nl and 0 <= cj < ns):
            out[i] = np.nan
            continue
        if not unclean[max(ci - 1, 0) : ci + 2, max(cj - 1, 0) : cj + 2].any():
            continue
        h0, h1, degree = model.annuli[int(model.choice[ci, cj])]
        kern = background_kernel(h0, h1, degree)
        h = kern.shape[0] // 2
        hf = h + 2
        reach = r + h
        l0, l1 = max(ci - reach, 0), min(ci + reach + 1, nl)
        s0, s1 = max(cj - reach, 0), min(cj + reach + 1, ns)
        hl, hs = np.nonzero(unclean[l0:l1, s0:s1])
        dl, ds = hl + l0 - ci, hs + s0 - cj  # the hole, relative to the centre pixel
        e = int(max(np.max(np.abs(dl)), np.max(np.abs(ds))))
        # a = P/ΣP² on the stamp, spread by the kernel: the flux's weight of each pixel's background input
        off = np.arange(-r, r + 1, dtype=float)
        p = psf.stamp_grid(
            (cj + off)[None, None, :], (ci + off)[None, :, None], x[i : i + 1], y[i : i + 1], False
        )[0, 0]
        a = p / max(float(np.sum(p * p)), 1e-300)
        half = r + h  # g = a ∗ K on (2(r + h) + 1)², centred on the stamp's centre pixel
        ap = np.zeros((2 * half + 1, 2 * half + 1))
        ap[h : h + m, h : h + m] = a
        g = ndimage.convolve(ap, kern, mode="constant")
        gw = g[dl + half, ds + half]
        pad = half + hf  # the copy's window: its fill boxes around the hole
        # the copies' centres, ring by ring, angle by angle; kept where the copy's window lies inside the
        # crop, its hole on clean pixels, its stamp on usable ones, and (with a limb) on the source's side
        rho = np.repeat([2 * e + 2, 2 * e + 6], FILL_SHIFT_ANGLES)
        t = np.tile(np.arange(FILL_SHIFT_ANGLES), 2)
        ang = 2 * np.pi * (t + 0.5 * (rho > 2 * e + 2)) / FILL_SHIFT_ANGLES
        li = ci + np.rint(rho * np.sin(ang)).astype(np.intp)
        sj = cj + np.rint(rho * np.cos(ang)).astype(np.intp)
        inside = (li - pad >= 0) & (sj - pad >= 0) & (li + pad < nl) & (sj + pad < ns)
        li, sj = li[inside], sj[inside]
        hole_l, hole_s = li[:, None] + dl[None], sj[:, None] + ds[None]
        ok = model.clean[hole_l, hole_s].all(axis=1)
        ok &= model.usable[li[:, None] + stamp_l[None], sj[:, None] + stamp_s[None]].all(axis=1)
        if side is not None:
            ok &= (side[hole_l, hole_s] == side[ci, cj]).all(axis=1)
        centres = list(zip(li[ok].tolist(), sj[ok].tolist(), strict=True))
        if len(centres) < FILL_MIN_SHIFTS:
            out[i] = np.nan
            continue
        wins = [(slice(li - pad, li + pad + 1), slice(sj - pad, sj + pad + 1)) for li, sj in centres]
        fed = model.clean if side is None else model.clean & (side == side[ci, cj])
        c = np.stack([fed[w] for w in wins]).astype(np.float64)
        at = (slice(None), dl + pad, ds + pad)
        c[at] = 0.0
        d = np.stack([data[w] for w in wins])
        size = (1, 2 * hf + 1, 2 * hf + 1)
        num = ndimage.uniform_filter(d * c, size, mode="constant")[at]
        den = ndimage.uniform_filter(c, size, mode="constant")[at]
        good = np.all(den > 1e-3, axis=1)
        if good.sum() < FILL_MIN_SHIFTS:
            out[i] = np.nan
            continue
        delta = num[good] / den[good] - d[at][good]
        dfs = -(delta @ gw)
        cl, cs = np.array(centres)[good].T
        sw = model.sigma_white[cl[:, None] + dl[None], cs[:, None] + ds[None]].astype(np.float64)
        nvs = (sw * sw) @ (gw * gw)
        # robust: a copy landing on a bright feature (a neighbour's wings, a crater rim) would rule the mean
        med = float(np.median(dfs))
        var = (1.4826 * float(np.median(np.abs(dfs - med)))) ** 2 + med**2 - float(np.median(nvs))
        out[i] = np.sqrt(max(var, 0.0))
    return out


def _record(monkeypatch, seen: list | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every call detection makes to fill_flux_err, answered by the new version; (new, reference) kept, and
    the arguments in ``seen``."""
    calls: list[tuple[np.ndarray, np.ndarray]] = []

    def both(model, x, y, psf, along_limb_px):
        if seen is not None:
            seen.append((model, x, y, psf))
        new = fill_flux_err(model, x, y, psf, along_limb_px=0.0)  # the reference: no copies along the limb
        calls.append((new, _fill_flux_err_reference(model, x, y, psf)))
        return fill_flux_err(model, x, y, psf, along_limb_px)

    monkeypatch.setattr(band_mod, "fill_flux_err", both)
    return calls


def _check(calls) -> int:
    """Assert each call's values equal; the number of non-zero finite values compared."""
    assert calls
    n = 0
    for new, ref in calls:
        assert new.shape == ref.shape
        assert np.array_equal(np.isnan(new), np.isnan(ref))
        ok = ~np.isnan(ref)
        assert np.array_equal(new[ok] == 0.0, ref[ok] == 0.0)
        np.testing.assert_allclose(new[ok], ref[ok], rtol=REL_TOL, atol=0.0)
        n += int(np.count_nonzero(ref[ok]))
    return n


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_pinned", Path(__file__).parent / "test_detect_pinned.py")
    pinned = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pinned)
    return pinned.pinned_frames(tmp_path_factory.mktemp("pinned_fill"))


@pytest.mark.parametrize(
    "name",
    ["sim_day_near", "sim_night_far", "sim_day_near_no_geometry", "independent_day", "independent_night"],
)
def test_pinned_frames_same_fill_errors(frames, name, monkeypatch):
    from ioscan.detect import detect_frame

    calls = _record(monkeypatch)
    frame, bps = frames[name]
    detect_frame(frame, bps)
    _check(calls)


def test_sunlit_ground_with_bright_sources_same_fill_errors(monkeypatch):
    """The simulator's sunlit L ground with S/N ~1000 sources on a grid: many holes, many copies."""
    from ioscan.detect.band import detect_band
    from ioscan.detect.config import DetectConfig
    from ioscan.records import BandImage
    from ioscan.simulate.psf import jiram_psf
    from ioscan.simulate.sunlit_ground import sunlit_ground_frame

    f = sunlit_ground_frame(100000.0, 31)
    rng = np.random.default_rng(31)
    shape = f.image.shape
    pos = np.array(
        [
            (ln + rng.uniform(-0.5, 0.5), s + rng.uniform(-0.5, 0.5))
            for ln in range(14, shape[0] - 13, 24)
            for s in range(14, shape[1] - 13, 24)
        ]
    )
    li, sj = np.rint(pos[:, 0]).astype(int), np.rint(pos[:, 1]).astype(int)
    sigma = f.detector.noise_sigma_w_m2_sr("L", f.exposure_s, np.maximum(f.ground[li, sj], 0.0))
    src = np.zeros_like(f.image)
    jiram_psf().add_point_sources(src, pos[:, 1], pos[:, 0], 60.0 * sigma)
    img = BandImage(
        band="L", data=(f.image + src).astype(np.float32), unit="W/(m^2*sr)", wavelength_um=3.455,
        bandwidth_um=0.28,
    )  # fmt: skip
    seen: list = []
    calls = _record(monkeypatch, seen)
    detect_band(img, f.backplanes, instrument="JIRAM", config=DetectConfig(estimate_psf=False))
    assert _check(calls) > 20
    # positions nan, outside the crop, far outside, on its edges, next to the fitted ones
    model, x, y, psf = seen[-1]
    nl, ns = model.usable.shape
    xe = np.concatenate([x, [np.nan, 3.0, -5.0, 1e300, -0.4, ns - 0.6, ns - 0.4, np.inf, 10.0]])
    ye = np.concatenate([y, [3.0, np.nan, 3.0, 3.0, -0.4, nl - 0.6, 5.0, 4.0, -1e300]])
    new = fill_flux_err(model, xe, ye, psf, along_limb_px=0.0)
    assert np.isnan(new[len(x) :][[0, 1, 2, 3, 6, 7, 8]]).all()
    _check([(new, _fill_flux_err_reference(model, xe, ye, psf))])


def _compiled_and_numpy(seen, along_limb_px: float) -> int:
    """Assert fill_flux_err's compiled loop gives the numpy loop's values bit for bit on each recorded call;
    the number of non-zero finite values compared."""
    n = 0
    for model, x, y, psf in seen:
        got = fill_flux_err(model, x, y, psf, along_limb_px, compiled=True)
        want = fill_flux_err(model, x, y, psf, along_limb_px, compiled=False)
        assert got.dtype == want.dtype and got.tobytes() == want.tobytes()
        n += int(np.count_nonzero(np.nan_to_num(want)))
    return n


@pytest.mark.parametrize("name", ["sim_day_near", "independent_day", "independent_night"])
def test_compiled_loop_is_the_numpy_loop_on_pinned_frames(frames, name, monkeypatch):
    """The per-source steps compiled (hole, copies, box sums, medians): the numpy loop's values bit for bit
    on every call detection makes, with the copies along the limb as detection sets them and reaching
    farther from it (more sources copied along the limb)."""
    from ioscan.detect import detect_frame

    seen: list = []
    _record(monkeypatch, seen)
    frame, bps = frames[name]
    detect_frame(frame, bps)
    assert seen
    _compiled_and_numpy(seen, band_mod.DetectConfig().fill_along_limb_px)
    _compiled_and_numpy(seen, 200.0)


def test_compiled_loop_is_the_numpy_loop_on_sunlit_ground(monkeypatch):
    """The same on the simulator's sunlit ground with S/N ~60 sources on a grid (many holes and copies),
    and at positions nan, outside the crop and on its edges."""
    from ioscan.detect.band import detect_band
    from ioscan.detect.config import DetectConfig
    from ioscan.records import BandImage
    from ioscan.simulate.psf import jiram_psf
    from ioscan.simulate.sunlit_ground import sunlit_ground_frame

    f = sunlit_ground_frame(100000.0, 7)
    rng = np.random.default_rng(7)
    shape = f.image.shape
    pos = np.array(
        [
            (ln + rng.uniform(-0.5, 0.5), s + rng.uniform(-0.5, 0.5))
            for ln in range(12, shape[0] - 11, 20)
            for s in range(12, shape[1] - 11, 20)
        ]
    )
    li, sj = np.rint(pos[:, 0]).astype(int), np.rint(pos[:, 1]).astype(int)
    sigma = f.detector.noise_sigma_w_m2_sr("L", f.exposure_s, np.maximum(f.ground[li, sj], 0.0))
    src = np.zeros_like(f.image)
    jiram_psf().add_point_sources(src, pos[:, 1], pos[:, 0], 60.0 * sigma)
    img = BandImage(
        band="L", data=(f.image + src).astype(np.float32), unit="W/(m^2*sr)", wavelength_um=3.455,
        bandwidth_um=0.28,
    )  # fmt: skip
    seen: list = []
    _record(monkeypatch, seen)
    detect_band(img, f.backplanes, instrument="JIRAM", config=DetectConfig(estimate_psf=False))
    assert _compiled_and_numpy(seen, 30.0) > 20
    model, x, y, psf = seen[-1]
    nl, ns = model.usable.shape
    xe = np.concatenate([x, [np.nan, 3.0, -5.0, 1e300, -0.4, ns - 0.6, ns - 0.4, np.inf, 10.0]])
    ye = np.concatenate([y, [3.0, np.nan, 3.0, 3.0, -0.4, nl - 0.6, 5.0, 4.0, -1e300]])
    _compiled_and_numpy([(model, xe, ye, psf)], 30.0)
