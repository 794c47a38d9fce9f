"""The package top: a lazy public API (``ioscan --help`` stays fast) whose names are the stages' own."""

from __future__ import annotations

import subprocess
import sys

import ioscan


def test_public_names_resolve_to_the_stage_objects():
    from ioscan.catalog.store import open_store
    from ioscan.detect import detect_frame
    from ioscan.formats import read_product
    from ioscan.geometry.navigate import navigate_frame
    from ioscan.measure import measure_frame

    assert ioscan.read_product is read_product and ioscan.navigate_frame is navigate_frame
    assert ioscan.detect_frame is detect_frame and ioscan.measure_frame is measure_frame
    assert ioscan.open_store is open_store
    for name in ioscan.__all__:
        assert getattr(ioscan, name) is not None


def test_importing_the_package_and_the_cli_loads_no_heavy_library():
    code = (
        "import sys, ioscan, ioscan.cli; "
        "heavy = {'numpy', 'scipy', 'spiceypy', 'dask', 'matplotlib', 'pandas'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
