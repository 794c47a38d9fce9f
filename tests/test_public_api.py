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


def test_stage_packages_export_lazily_the_modules_objects():
    import importlib

    import ioscan.detect
    import ioscan.measure

    for package in (ioscan.detect, ioscan.measure):
        assert sorted(package.__all__) == sorted(package._PUBLIC) == dir(package)
        for name, module in package._PUBLIC.items():
            assert getattr(package, name) is getattr(importlib.import_module(module), name)


def test_a_stages_settings_come_without_its_pipeline():
    code = (
        "import sys, ioscan.detect.config, ioscan.measure.config; "
        "print(sorted(m for m in ('ioscan.detect.band', 'ioscan.detect.background', 'ioscan.measure.frame') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
