"""benchmarks/against.py: the package at a revision is importable beside the current one, and its temporary
copy is gone once the process that made it exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
sys.path.insert(0, {bench!r})
from against import package_at
pkg = package_at("HEAD")
import ioscan
print(pkg.__name__, pkg.__file__)
assert pkg.__name__.startswith("ioscan_at_") and pkg is not ioscan
"""


def test_package_at_a_revision_is_a_separate_package_whose_copy_is_removed_at_exit():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(bench=str(REPO / "benchmarks"))],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    name, init = out[0], Path(out[1])
    assert name.startswith("ioscan_at_") and init.name == "__init__.py"
    copy_root = init.parent.parent
    assert copy_root.name.startswith("ioscan_against_")
    assert not copy_root.exists()


CONFIG_SCRIPT = """
import dataclasses, sys
sys.path.insert(0, {bench!r})
from against import config_for, package_at
from ioscan.detect import DetectConfig
pkg = package_at("HEAD")
Newer = dataclasses.make_dataclass("Newer", [("field_added_since", float, 1.5)], bases=(DetectConfig,))
cfg = Newer(threshold_snr=6.25)
old = config_for(pkg, cfg)
assert type(old).__module__.startswith(pkg.__name__), type(old).__module__
assert old.threshold_snr == 6.25 and not hasattr(old, "field_added_since")
assert config_for(pkg, None) is None
print("ok")
"""


def test_a_config_with_fields_added_since_the_revision_is_given_to_it_without_them():
    out = subprocess.run(
        [sys.executable, "-c", CONFIG_SCRIPT.format(bench=str(REPO / "benchmarks"))],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["ok"]
