"""The local fit that decides single peaks (:class:`ioscan.detect.localfit.LocalFitScale`): its S/N against
the ideal matched filter on injected sources, its scatter on pure noise and on structured ground, the
cosmic-ray hits it leaves out, and the veto's flags."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.localfit import (
    flag_local_fit_unconfirmed,
    limb_fit_snr,
    local_fit_scale,
    local_fit_snr_at,
)
from ioscan.detect.psf import PsfModel
from ioscan.records import Detection, DetectionFlag

PSF = PsfModel.gaussian(0.8)
SHAPE = (96, 160)


def _source(x0: float, y0: float, psf: PsfModel = PSF) -> np.ndarray:
    """Unit-flux PSF image at (x0, y0) (sample, line)."""
    xs = np.arange(SHAPE[1], dtype=float)[None, None, :]
    ys = np.arange(SHAPE[0], dtype=float)[None, :, None]
    return psf.stamps(xs, ys, np.array([x0]), np.array([y0]))[0][0]


def _ideal_flux(snr: float, x0: float, y0: float, sigma: float) -> float:
    """Flux whose ideal matched-filter S/N (true PSF, true background, white noise σ) is ``snr``."""
    return snr * sigma / float(np.sqrt(np.sum(_source(x0, y0) ** 2)))


def _sample_grid(step: int = 4, margin: int = 8) -> tuple[np.ndarray, np.ndarray]:
    ll, ss = np.mgrid[margin : SHAPE[0] - margin : step, margin : SHAPE[1] - margin : step]
    return ll.ravel(), ss.ravel()


def test_on_pure_noise_over_a_curved_background_the_fit_snr_is_unit_normal():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]].astype(float)
    x = 0.002 * (xx - 80) ** 2 + 0.05 * yy + rng.normal(size=SHAPE)
    ll, ss = _sample_grid()
    v = local_fit_snr_at(x, np.ones(SHAPE), np.ones(SHAPE, bool), ll, ss, PSF, phases=((0.0, 0.0),))
    assert abs(np.std(v) - 1.0) < 0.1 and abs(np.mean(v)) < 0.1


def test_it_is_the_limb_fit_without_a_limb():
    rng = np.random.default_rng(4)
    x = rng.normal(size=SHAPE)
    w = rng.random(SHAPE) > 0.05  # a few masked pixels: the weighted fit
    ll, ss = _sample_grid(step=7)
    target = np.zeros(SHAPE, bool)
    target[ll, ss] = True
    ref = limb_fit_snr(x, np.ones(SHAPE), w, target, np.zeros(SHAPE), PSF, ((0.0, 0.0),), 5, 1.0, 2)[0]
    got = local_fit_snr_at(x, np.ones(SHAPE), w, ll, ss, PSF, phases=((0.0, 0.0),))
    np.testing.assert_allclose(got, ref[ll, ss], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("phase", [(0.0, 0.0), (0.3, -0.4)])
def test_an_injected_source_keeps_most_of_its_ideal_snr(phase):
    """PSF + quadratic over 11 × 11 px against the ideal filter: measured 0.87 of the ideal S/N (the
    quadratic's share of the PSF); averaged over noise draws."""
    rng = np.random.default_rng(5)
    y0, x0 = 48.0 + phase[0], 80.0 + phase[1]
    flux = _ideal_flux(10.0, x0, y0, 1.0)
    got = [
        local_fit_snr_at(
            rng.normal(size=SHAPE) + flux * _source(x0, y0),
            np.ones(SHAPE),
            np.ones(SHAPE, bool),
            np.array([48]),
            np.array([80]),
            PSF,
        )[0]
        for _ in range(40)
    ]
    assert 0.8 < np.mean(got) / 10.0 < 0.95


def test_the_scale_is_one_on_noise_and_follows_structured_ground():
    rng = np.random.default_rng(6)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]].astype(float)
    noise = rng.normal(size=SHAPE)
    usable = np.ones(SHAPE, bool)
    plain = local_fit_scale(noise, np.ones(SHAPE), usable, None, np.zeros(0), np.zeros(0), PSF)
    assert np.all(plain.scale < 1.1)
    # ground with structure of ~5 px period (amplitude 3 σ) that a quadratic over 11 px cannot follow
    ground = 3.0 * np.sin(2 * np.pi * xx / 5.3) * np.cos(2 * np.pi * yy / 6.1)
    rough = local_fit_scale(noise + ground, np.ones(SHAPE), usable, None, np.zeros(0), np.zeros(0), PSF)
    assert np.all(rough.scale > 1.3)
    # so a source of ideal S/N 12 on the rough ground is confirmed at a lower calibrated S/N than on noise
    flux = _ideal_flux(12.0, 80.0, 48.0, 1.0)
    src = flux * _source(80.0, 48.0)
    on_noise = local_fit_scale(noise + src, np.ones(SHAPE), usable, None, [48], [80], PSF).snr_at([48], [80])
    on_rough = local_fit_scale(noise + ground + src, np.ones(SHAPE), usable, None, [48], [80], PSF)
    assert on_noise[0] > 8.0 and on_rough.snr_at([48], [80])[0] < on_noise[0]


def test_a_cosmic_ray_hit_in_the_window_is_left_out():
    """A bright three-pixel hit at the window's corner (4 lines, 3–5 samples off; an outlier the background's
    test replaced, ``clean`` False) does not bias the fit there; fed as it is, its pull on the quadratic
    does (as on a renderer frame: local-fit S/N 17 at a noise peak of S/N 3.6)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=SHAPE)
    x[52, 83:86] = [200.0, 250.0, 300.0]
    clean = np.ones(SHAPE, bool)
    clean[52, 83:86] = False
    usable = np.ones(SHAPE, bool)
    without = local_fit_scale(x, np.ones(SHAPE), usable, None, [], [], PSF, clean=clean)
    assert abs(without.snr_at([48], [80])[0]) < 4.0
    fed = local_fit_snr_at(x, np.ones(SHAPE), usable, np.array([48]), np.array([80]), PSF)
    assert abs(fed[0]) > 5.0


def test_the_compact_fit_rejects_a_bump_of_the_ground():
    """A round bump of σ 2 px (a feature of the ground) reaches a high plain S/N, but with a broad Gaussian
    freed beside the PSF nearly nothing of it is left; a point source of the same plain S/N keeps most."""
    rng = np.random.default_rng(8)
    yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]].astype(float)
    noise = rng.normal(size=SHAPE)
    bump = 6.0 * np.exp(-0.5 * ((xx - 80) ** 2 + (yy - 48) ** 2) / 2.0**2)
    usable = np.ones(SHAPE, bool)
    fb = local_fit_scale(noise + bump, np.ones(SHAPE), usable, None, [], [], PSF)
    assert fb.snr_at([48], [80])[0] > 6.0
    assert fb.compact_snr_at([48], [80], 2.0)[0] < 2.0
    flux = _ideal_flux(10.0, 80.0, 48.0, 1.0)
    fs = local_fit_scale(noise + flux * _source(80.0, 48.0), np.ones(SHAPE), usable, None, [], [], PSF)
    assert fs.compact_snr_at([48], [80], 2.0)[0] > 4.0


def _det(snr_local: float, flags: int = 0) -> Detection:
    return Detection(
        band="M",
        sample=1.0,
        line=1.0,
        sample_err_px=0.1,
        line_err_px=0.1,
        snr=6.0,
        net_radiance_sum=1.0,
        net_radiance_sum_err=0.2,
        unit="W m-2 sr-1",
        background=0.0,
        peak=1.0,
        n_pixels=9,
        flags=flags,
        wavelength_um=4.78,
        extra={"local_fit_snr": snr_local},
    )


def test_the_veto_flags_only_unconfirmed_unsaturated_detections():
    dets = [_det(2.0), _det(6.0), _det(1.0, int(DetectionFlag.SATURATED)), _det(float("nan")), _det(3.9)]
    assert flag_local_fit_unconfirmed(dets, 4.0) == 2
    flagged = [bool(d.flags & DetectionFlag.ARTEFACT) for d in dets]
    assert flagged == [True, False, False, False, True]
    assert dets[0].extra["artefact_test"] == "local_fit"
