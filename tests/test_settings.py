"""Settings: defaults, a TOML file and --set overrides, clear errors, and a JSON record for the catalogue."""

from __future__ import annotations

import json

import pytest

from ioscan.detect import PsfModel
from ioscan.settings import Settings, SettingsError


def test_defaults_are_the_stages_own():
    s = Settings()
    assert s.detect.threshold_snr == 5.2 and s.track.n_sigma == 3.0 and s.navigate.register is True
    assert s.measure.saturated_centroid_sys_px == 1.0


def test_file_then_overrides(tmp_path):
    path = tmp_path / "ioscan.toml"
    path.write_text(
        "[detect]\nthreshold_snr = 5\npsf = {weights = [0.9, 0.1], sigmas_px = [0.7, 3.0]}\n"
        '[track]\nexcluded_flags = ["COSMIC_RAY"]\nn_sigma = 4.0\n',
        encoding="utf-8",
    )
    s = Settings.load(path, ["detect.threshold_snr=6.5", "navigate.register=false", "measure.limit_snr=3"])
    assert s.detect.threshold_snr == 6.5  # --set wins over the file
    assert isinstance(s.detect.psf, PsfModel) and s.detect.psf.sigmas_px == (0.7, 3.0)
    assert s.track.excluded_flags == ("COSMIC_RAY",) and s.track.excluded_mask == 8
    assert s.navigate.register is False and s.measure.limit_snr == 3.0
    again = Settings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again == s


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["detect.threshold=5"], "unknown setting 'threshold'"),
        (["detection.threshold_snr=5"], r"unknown section \[detection\]"),
        (["detect.threshold_snr=high"], "'high' is not"),
        (["track.excluded_flags=['COSMIC']"], "unknown detection flag 'COSMIC'"),
        (["threshold_snr=5"], "expected section.key=value"),
        (["detect.disk_model=bogus"], "disk_model must be one of off, regions, band, flat, not 'bogus'"),
    ],
)
def test_bad_settings_name_the_problem(overrides, message):
    with pytest.raises(SettingsError, match=message):
        Settings.load(None, overrides)


def test_bad_file_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[detect\nthreshold_snr = 5\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="bad.toml: not valid TOML"):
        Settings.load(path)
    with pytest.raises(SettingsError, match="cannot read settings file"):
        Settings.load(tmp_path / "missing.toml")


def test_nested_tracking_steps_are_settable_and_can_be_turned_off():
    s = Settings.load(None, ["track.mixture=false", "track.error_model.max_iter=4"])
    assert s.track.mixture is None and s.track.error_model.max_iter == 4
    assert s.track.night_offsets is not None
    again = Settings.from_dict(json.loads(json.dumps(s.to_dict())))
    assert again == s
    quoted = s.track.quoted_errors()
    assert quoted.error_model is None and quoted.night_offsets is None and quoted.mixture is None


def test_optional_settings_are_set_back_to_none_by_the_word_none(tmp_path):
    default = Settings().detect
    assert default.limb_ridge_chi2 is not None and default.limb_zone_own_scale_px is not None
    s = Settings.load(None, ["detect.limb_ridge_chi2=none", "detect.limb_zone_own_scale_px=None"])
    assert s.detect.limb_ridge_chi2 is None and s.detect.limb_zone_own_scale_px is None
    path = tmp_path / "ioscan.toml"
    path.write_text('[detect]\nlimb_ridge_chi2 = "none"\n', encoding="utf-8")
    assert Settings.load(path).detect.limb_ridge_chi2 is None
    with pytest.raises(SettingsError, match="'none' is not"):  # not optional: still an error
        Settings.load(None, ["detect.threshold_snr=none"])


_SETTINGS_IMPORT = """
import sys
import ioscan.settings
heavy = ("numba", "scipy.ndimage", "scipy.special", "ioscan.detect.fit_kernels")
print(" ".join(m for m in heavy if m in sys.modules))
"""


def test_settings_import_no_compiled_kernels_nor_scipy():
    """Loading settings (every CLI command, the track and report steps) compiles nothing and imports neither
    numba nor scipy's image and special modules: the PSF model imports them where it computes."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _SETTINGS_IMPORT], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
