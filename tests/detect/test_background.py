"""Background kernels: exact for the polynomials they fit, unit sum, nothing from the source box."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.detect.background import background_kernel, correlate_kernel


@pytest.mark.parametrize("h0, h1, degree", [(1, 3, 2), (2, 5, 2), (1, 3, 4)])
def test_kernel_reproduces_polynomials_of_its_degree(h0, h1, degree):
    k = background_kernel(h0, h1, degree)
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(k[h1 - h0 : h1 + h0 + 1, h1 - h0 : h1 + h0 + 1] == 0)  # the source box is not used
    rng = np.random.default_rng(degree)
    yy, xx = np.mgrid[0:40, 0:40].astype(float) / 40.0
    poly = sum(rng.normal() * xx**i * yy**j for i in range(degree + 1) for j in range(degree + 1 - i))
    inner = (slice(h1, 40 - h1), slice(h1, 40 - h1))
    assert np.allclose(correlate_kernel(poly, h0, h1, degree)[inner], poly[inner], atol=1e-9)
    if degree == 2:  # a quadratic kernel does not follow a quartic term; the quartic one does
        quartic = (xx - 0.5) ** 4 * 50.0
        err2 = np.abs(correlate_kernel(quartic, h0, h1, 2) - quartic)[inner].max()
        err4 = np.abs(correlate_kernel(quartic, 1, 3, 4) - quartic)[inner].max()
        assert err4 < 1e-9 < err2
