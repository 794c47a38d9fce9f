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
