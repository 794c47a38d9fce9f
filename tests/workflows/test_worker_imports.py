"""What a Dask worker imports before its first product: the pipeline, not the tracker's and the report's
settings, SQLAlchemy nor scipy.optimize (start-up time, issue 15); and what it is sent holds the whole
Settings' product sections."""

import subprocess
import sys

from ioscan.settings import Settings
from ioscan.workflows.process import ProductSettings

_WORKER = """
import sys
from ioscan.workflows.cluster import run_products  # what unpickling a scan's task imports
from ioscan.workflows.process import import_pipeline
import_pipeline()  # what the worker plugin imports
unwanted = ("ioscan.settings", "ioscan.track.config", "scipy.optimize", "sqlalchemy")
print(" ".join(m for m in unwanted if m in sys.modules))
"""


def test_worker_start_imports_no_tracker_settings_sqlalchemy_nor_optimize():
    out = subprocess.run([sys.executable, "-c", _WORKER], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_product_settings_are_the_settings_sections():
    s = Settings.load(overrides=["detect.threshold_snr=7.5"])
    p = ProductSettings.of(s)
    assert p.detect is s.detect and p.measure is s.measure and p.navigate is s.navigate
    other = ProductSettings.of(Settings())
    assert p.to_dict() != other.to_dict()  # a chaining state kept under other settings is not reused
    assert ProductSettings.of(p).to_dict() == p.to_dict()
