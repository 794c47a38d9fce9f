"""The spike test beside bright sources and with its own amplitude (:func:`ioscan.detect.find.spike_dchi2`'s
``neighbours`` and ``fit_amplitude``): faint true sources a few pixels along the lines from a bright one, with
an elongated core, are judged on their own light, hits beside them still are hits, and a flux fitted
elsewhere no longer decides."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.find import (
    SPIKE_FALSE_FLAG_RATE,
    SpikeNeighbours,
    _spike_dchi2_numpy,
    crowded,
    spike_dchi2,
    spike_threshold,
)
from ioscan.detect.psf import PsfModel

#: the independent renderer's core elongated 1.5 along the lines (σ 0.8 × 1.2 px: geometric mean 0.98 px)
PSF = PsfModel((1.0,), (0.98,), elongation=1.5)
SIZE, N_SIDE = 24, 20


def _cells(seed: int):
    """Unit white noise on N_SIDE × N_SIDE cells of SIZE px, a bright source's place near each cell's centre
    and a faint one's 3.5 px further along the lines: (image, bright x, y, faint x, y)."""
    rng = np.random.default_rng(seed)
    n = N_SIDE * N_SIDE
    img = rng.normal(0.0, 1.0, (SIZE * N_SIDE, SIZE * N_SIDE))
    bx = (np.arange(n) % N_SIDE) * SIZE + SIZE // 2 + rng.uniform(-0.5, 0.5, n)
    by = (np.arange(n) // N_SIDE) * SIZE + SIZE // 2 + rng.uniform(-0.5, 0.5, n)
    return img, bx, by, bx + rng.uniform(-0.5, 0.5, n), by + 3.5


def _field(seed: int, faint_snr: float, bright_snr: float, hit: bool = False):
    """Unit white noise with, per cell, a bright source and 3.5 px further along the lines a faint one (or,
    ``hit``, a one-pixel hit of the same matched-filter S/N). Returns (image, faint x, y, flux, bright x,
    y, flux)."""
    img, bx, by, fx, fy = _cells(seed)
    n = len(bx)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)

    def add(x, y, snr):
        flux = np.empty(n)
        for k in range(n):
            i0, j0 = int(np.rint(by[k])) - SIZE // 2, int(np.rint(bx[k])) - SIZE // 2
            p = PSF.stamp_values(xx[None, :1, :] + j0, yy[None, :, :1] + i0, x[k : k + 1], y[k : k + 1])[0]
            flux[k] = snr / np.sqrt(np.sum(p**2))
            img[i0 : i0 + SIZE, j0 : j0 + SIZE] += flux[k] * p
        return flux

    b_flux = add(bx, by, bright_snr)
    if hit:
        fx, fy = np.rint(fx), np.rint(fy)
        img[fy.astype(int), fx.astype(int)] += faint_snr  # unit noise: a one-pixel hit's S/N is its value
        f_flux = np.full(n, np.nan)  # (the spike test fits the amplitude on the pixels it tests)
    else:
        f_flux = add(fx, fy, faint_snr)
    return img, fx, fy, f_flux, bx, by, b_flux


def _faint_advantage(img, fx, fy, f_flux, bx, by, b_flux, chi2_dof=1.0, with_neighbours=True):
    n = len(fx)
    ones = np.ones(img.shape)
    x, y = np.concatenate([fx, bx]), np.concatenate([fy, by])
    flux = np.concatenate([f_flux, b_flux])
    nb = SpikeNeighbours(x, y, flux, np.full(2 * n, chi2_dof), PSF, 0.1, np.arange(n))
    return spike_dchi2(
        img,
        ones,
        ones.astype(bool),
        fx,
        fy,
        f_flux,
        PSF,
        np.ones(n, bool),
        nb if with_neighbours else None,
        fit_amplitude=with_neighbours,
    )


def test_faint_source_beside_a_bright_one_is_not_a_hit():
    thr = spike_threshold(PSF, 5.2)
    field = _field(3, 12.0, 400.0)
    before = np.mean(_faint_advantage(*field, with_neighbours=False) > thr)
    after = np.mean(_faint_advantage(*field) > thr)
    # the bright one's wings made most faint ones look like hits; judged on their own light they are flagged
    # about at the calibrated rate (400 sources: 4 binomial σ of 3 % is 3.4 %)
    assert before > 0.5
    assert after < SPIKE_FALSE_FLAG_RATE + 4 * np.sqrt(SPIKE_FALSE_FLAG_RATE * 0.97 / len(field[1]))


def test_hit_beside_a_bright_source_is_still_a_hit():
    thr = spike_threshold(PSF, 5.2)
    assert np.mean(_faint_advantage(*_field(4, 12.0, 400.0, hit=True)) > thr) > 0.95


def test_badly_fitted_neighbour_leaves_the_stamp_as_it_is():
    field = _field(5, 12.0, 400.0)
    spoilt = _faint_advantage(*field, chi2_dof=1e3)
    as_before = _faint_advantage(*field, with_neighbours=False)
    np.testing.assert_array_equal(spoilt, as_before)


def test_fitted_amplitude_does_not_depend_on_the_given_flux():
    img, fx, fy, f_flux, *_ = _field(6, 10.0, 0.0)
    ones = np.ones(img.shape)
    args = (img, ones, ones.astype(bool), fx, fy)
    own = spike_dchi2(*args, 1.6 * f_flux, PSF, fit_amplitude=True)
    np.testing.assert_allclose(own, spike_dchi2(*args, None, PSF, fit_amplitude=True))
    thr = spike_threshold(PSF, 5.2)
    # a flux 60 % high (fitted on other pixels) flags true sources; the amplitude fitted on the tested pixels
    # does so at about the calibrated rate
    assert np.mean(spike_dchi2(*args, 1.6 * f_flux, PSF) > thr) > 0.3
    assert np.mean(own > thr) < SPIKE_FALSE_FLAG_RATE + 4 * np.sqrt(SPIKE_FALSE_FLAG_RATE * 0.97 / len(fx))


def test_a_bright_neighbours_halo_the_background_took_is_not_taken_off_again():
    """JIRAM's model (0.96 of a 0.6-px core, 0.04 of a 2.5-px halo): faint sources (S/N 12) 3.5 px from one of
    S/N 3,000 on a residual whose background has taken the smooth halo (as the residual beside such a source
    on the project's eclipsed simulator frame showed). Only the neighbours' core is taken off: the faint ones
    are flagged about at the calibrated rate (the whole model taken off left every pixel of the stamp low and
    the faint source sharper than the PSF: most flagged)."""
    psf = PsfModel((0.96, 0.04), (0.6, 2.5))
    core = PsfModel((1.0,), (0.6,))
    img, bx, by, fx, fy = _cells(7)
    n = len(bx)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    fluxes = []
    for x, y, snr in ((bx, by, 3000.0), (fx, fy, 12.0)):
        flux = np.empty(n)
        for k in range(n):
            i0, j0 = int(np.rint(by[k])) - SIZE // 2, int(np.rint(bx[k])) - SIZE // 2
            xs, ys = xx[None, :1, :] + j0, yy[None, :, :1] + i0
            p = psf.stamp_values(xs, ys, x[k : k + 1], y[k : k + 1])[0]
            flux[k] = snr / np.sqrt(np.sum(p**2))
            # the residual: the core's light (the halo's went into the background)
            img[i0 : i0 + SIZE, j0 : j0 + SIZE] += (
                0.96 * flux[k] * core.stamp_values(xs, ys, x[k : k + 1], y[k : k + 1])[0]
            )
        fluxes.append(flux)
    x, y = np.concatenate([fx, bx]), np.concatenate([fy, by])
    nb = SpikeNeighbours(x, y, np.concatenate(fluxes[::-1]), np.ones(2 * n), psf, 0.1, np.arange(n))
    ones = np.ones(img.shape)
    got = spike_dchi2(img, ones, ones.astype(bool), fx, fy, fluxes[1], psf, np.ones(n, bool), nb)
    assert np.mean(got > spike_threshold(psf, 5.2)) < SPIKE_FALSE_FLAG_RATE + 4 * np.sqrt(
        SPIKE_FALSE_FLAG_RATE * 0.97 / n
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compiled_spike_test_with_neighbours_is_numpys_bit_for_bit(dtype, seed):
    """The spike test with neighbours (the detection's: compiled, fit_kernels.spike_stamp_pixels and
    spike_advantage) gives :func:`_spike_dchi2_numpy`'s values bit for bit (±0 and NaN alike): float32 and
    float64 maps, sources at and beyond the frame's edges, NaN, masked and zero-noise pixels, hits, crowded
    and isolated sources, badly fitted and hit neighbours, given fluxes and fitted amplitudes."""
    rng = np.random.default_rng(seed)
    nl, ns = 40, 50
    img = rng.normal(0.0, 1.0, (nl, ns))
    n = 60
    x, y = rng.uniform(-1.5, ns + 0.5, n), rng.uniform(-1.5, nl + 0.5, n)
    x[:10], y[:10] = x[10:20] + rng.uniform(-3, 3, 10), y[10:20] + rng.uniform(-3, 3, 10)  # close pairs
    flux = rng.uniform(-5.0, 400.0, n)
    for k in range(n):
        li, sj = int(np.clip(np.rint(y[k]), 0, nl - 1)), int(np.clip(np.rint(x[k]), 0, ns - 1))
        img[max(li - 3, 0) : li + 4, max(sj - 3, 0) : sj + 4] += flux[k] * 0.02
    img[rng.integers(0, nl, 30), rng.integers(0, ns, 30)] += 60.0  # hits
    img[rng.integers(0, nl, 5), rng.integers(0, ns, 5)] = np.nan
    img[rng.integers(0, nl, 5), rng.integers(0, ns, 5)] = -0.0
    noise = rng.uniform(0.5, 2.0, (nl, ns))
    noise[rng.integers(0, nl, 5), rng.integers(0, ns, 5)] = 0.0
    valid = rng.random((nl, ns)) > 0.05
    chi2 = rng.uniform(0.5, 40.0, n)
    flux[rng.integers(0, n, 3)] = np.nan
    rows = np.sort(rng.choice(n, 40, replace=False))
    hit = rng.random(n) < 0.1
    psf = PsfModel((0.96, 0.04), (0.6, 2.5), elongation=1.0 + 0.5 * seed)
    near = crowded(x, y)
    edge = rng.random(rows.size) < 0.3
    maps = (img.astype(dtype), noise.astype(dtype), valid)
    for nb_hit in (None, hit):
        nb = SpikeNeighbours(x, y, flux, chi2, psf, 0.1, rows, nb_hit)
        for f in (flux[rows], None):
            args = (*maps, x[rows], y[rows], f, psf, near[rows], nb, edge)
            got, want = spike_dchi2(*args), _spike_dchi2_numpy(*args)
            assert got.dtype == want.dtype == np.float64
            np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))
