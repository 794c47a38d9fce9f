import numpy as np

from ioscan.robust import finite_median


def test_finite_median_equals_np_median():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for n in (1, 2, 3, 10, 101, 1000):
            x = rng.standard_normal(n).astype(dtype)
            assert finite_median(x) == float(np.median(x))


def test_mad_sigma_equals_the_two_medians():
    """mad_sigma's partitions give np.median's values bit for bit: odd and even sizes, ties, NaN (→ NaN),
    float32 / float64 (fast path) and float16 / integers (np.median itself), with and without subsampling."""
    from ioscan.robust import MAD_TO_SIGMA, mad_sigma

    def two_medians(x, max_samples=None):
        x = np.asarray(x)
        if max_samples is not None and x.size > max_samples:
            x = x[:: x.size // max_samples + 1]
        return float(MAD_TO_SIGMA * np.median(np.abs(x - np.median(x))))

    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64, np.float16, np.int64):
        for n in (1, 2, 3, 4, 11, 100, 1001, 6001):
            for variant in ("normal", "ties", "nan", "offset"):
                x = rng.standard_normal(n) * (100 if dtype is np.int64 else 1)
                if variant == "ties":
                    x = np.round(x, 1)
                elif variant == "offset":
                    x = x * 1e3 + 7.0
                x = x.astype(dtype)
                if variant == "nan" and n > 2 and dtype in (np.float32, np.float64):
                    x[n // 3] = np.nan
                for ms in (None, 50):
                    got, want = mad_sigma(x, max_samples=ms), two_medians(x, ms)
                    assert got == want or (np.isnan(got) and np.isnan(want)), (dtype, n, variant, ms)
