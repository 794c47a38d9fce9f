"""What decides the last bits of ioscan's floats on this machine: numpy's and scipy's versions, numpy's
SIMD dispatch (its exp/log/sum kernels differ in the last bit between AVX2 and AVX-512) and OpenBLAS's kernel
architecture (its dot products' order). Pinned results are compared bit for bit where this matches the
platform they were written on, and within rounding's reach elsewhere (another CPU, ``make test-latest``)."""

from __future__ import annotations


def float_platform() -> dict[str, str]:
    """Versions, numpy's highest dispatched x86/ARM SIMD level and the OpenBLAS core types loaded (numpy's,
    scipy's: the same set whichever is loaded yet), as strings."""
    import numpy as np
    import scipy
    import threadpoolctl

    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__
    levels = ("X86_V4", "X86_V3", "X86_V2", "AVX512_SKX", "AVX2", "ASIMD", "NEON")
    simd = next((name for name in levels if __cpu_features__.get(name)), "baseline")
    np.ones(2) @ np.ones(2)  # loads the BLAS so threadpoolctl sees it
    blas = [i.get("architecture", "") for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    return {
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "simd": simd,
        "blas": ",".join(sorted(set(blas))),
    }
