import numpy as np

from ioscan.robust import finite_median


def test_finite_median_equals_np_median():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for n in (1, 2, 3, 10, 101, 1000):
            x = rng.standard_normal(n).astype(dtype)
            assert finite_median(x) == float(np.median(x))
