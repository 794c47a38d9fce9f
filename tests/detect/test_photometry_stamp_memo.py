"""The fit's memo keeps the PSF stamps while the positions stay
(:func:`ioscan.detect.photometry.effective_psf`): what it returns is what a call without the memo makes, bit
for bit."""

from __future__ import annotations

import numpy as np

from ioscan.detect.background import background_kernel
from ioscan.detect.photometry import _stamp_stack, effective_psf
from ioscan.detect.psf import PsfModel


def _fresh(psf, x, y, kernel, shape, r, clean, derivatives):
    return effective_psf(psf, x, y, kernel, shape, r, clean, None, derivatives)


def _same(a, b) -> bool:
    return all(
        (u is None and v is None) or (u.dtype == v.dtype and np.array_equal(u, v, equal_nan=True))
        for u, v in zip(a, b, strict=True)
    )


def test_the_memo_returns_the_stamps_a_fresh_call_makes():
    """The fit's sequence: linear fluxes (no derivatives), the first step at the same positions (the stack
    kept), then moved positions (a new stack), on a crop with unclean pixels and sources at its edge."""
    rng = np.random.default_rng(2)
    psf = PsfModel((0.85, 0.15), (0.7, 2.0), elongation=1.2)
    kernel = background_kernel(3, 6, 1)
    shape, r = (40, 50), 3
    clean = rng.random(shape) > 0.1
    x, y = rng.uniform(-1, 50, 7), rng.uniform(-1, 40, 7)
    memo: dict = {}
    steps = [(x, y, False), (x, y, True), (x + 0.13, y - 0.21, True), (x + 0.13, y - 0.21, True)]
    for k, (xs, ys, der) in enumerate(steps):
        got = effective_psf(psf, xs, ys, kernel, shape, r, clean, memo, der)
        want = _fresh(psf, xs, ys, kernel, shape, r, clean, der)
        assert _same(got, want), k
        assert (got[1] is None) == (not der)


def test_the_stamp_stack_is_kept_for_the_same_positions_only():
    psf = PsfModel.gaussian(0.8)
    off = np.arange(-4, 5)
    x, y = np.array([10.3, 20.0]), np.array([5.5, 7.25])
    cj, ci = np.rint(x).astype(int), np.rint(y).astype(int)
    sj, li = np.broadcast_arrays(
        cj[:, None, None] + off[None, None, :], ci[:, None, None] + off[None, :, None]
    )
    memo: dict = {}
    first = _stamp_stack(psf, sj, li, x, y, False, memo)
    # P as stamp_grid makes it without derivatives, the derivatives as with them
    bare = psf.stamp_grid(sj[:, :1, :].astype(float), li[:, :, :1].astype(float), x, y, False)
    full = psf.stamp_grid(sj[:, :1, :].astype(float), li[:, :, :1].astype(float), x, y, True)
    assert np.array_equal(first[0], bare[0]) and np.array_equal(first, full) and np.any(first[1] != 0)
    assert _stamp_stack(psf, sj, li, x, y, True, memo) is first
    moved = _stamp_stack(psf, sj, li, x + 0.01, y, True, memo)
    assert moved is not first and not np.array_equal(moved[0], first[0])
    assert _stamp_stack(psf, sj, li, x, y, True, None) is not first  # no memo: made anew


def test_the_first_two_rounds_make_one_effective_psf(monkeypatch):
    """The fit's first round (no derivatives) and its second (the first step, the same positions) make the
    stamps and their fill once (the second round is the first's result, its derivatives made then), the
    values a fresh call makes; moved sources (a few to another centre pixel) make them again."""
    from ioscan.detect import photometry

    rng = np.random.default_rng(3)
    psf = PsfModel((0.96, 0.04), (0.6, 2.5))
    kernel = background_kernel(3, 6, 1)
    shape, r = (60, 70), 2
    clean = rng.random(shape) > 0.15
    x, y = rng.uniform(-1, 70, 9), rng.uniform(-1, 60, 9)
    made: list[int] = []
    real = photometry.fill_unclean

    def counting(*a):
        made.append(a[9])  # (the planes filled)
        return real(*a)

    monkeypatch.setattr(photometry, "fill_unclean", counting)
    memo: dict = {}
    first = effective_psf(psf, x, y, kernel, shape, r, clean, memo, False)
    second = effective_psf(psf, x, y, kernel, shape, r, clean, memo, True)
    assert made == [3]
    assert first[1] is None and first[0] is second[0]
    moved_x = x + np.where(np.arange(9) % 3 == 0, 0.7, 0.05)
    third = effective_psf(psf, moved_x, y, kernel, shape, r, clean, memo, True)
    assert made == [3, 3]
    monkeypatch.undo()
    assert _same(first, _fresh(psf, x, y, kernel, shape, r, clean, False))
    assert _same(second, _fresh(psf, x, y, kernel, shape, r, clean, True))
    assert _same(third, _fresh(psf, moved_x, y, kernel, shape, r, clean, True))
