"""What a real JIRAM archive label says about its target, checked field against field
(:func:`ioscan.formats.jiram_pds3.label_target`, :func:`~ioscan.formats.jiram_pds3.validate_label`)."""

from __future__ import annotations

import numpy as np

from ioscan.formats import read_product
from real_label import copy_real


def test_real_jupiter_label_target_and_checks(tmp_path):
    frame = read_product(copy_real(tmp_path))
    t = frame.metadata["target"]
    assert t["name"] == "JUPITER" and t["pixels"] == 55296 and t["presence_flag"] == "000000000010000"
    # digits 0 / 5 / 10: the labelled target in the spectrometer / L image / M image (an I2 M-band frame)
    assert t["present"] == {"spectrometer": False, "L": False, "M": True}
    assert t["io_in_view"] is None and t["io_bands"] == []  # the label says nothing about Io
    assert frame.metadata["onboard_background_subtraction"] is True
    warnings = frame.metadata["label_warnings"]
    assert any("SC_SUN_POSITION_VECTOR repeats SC_TARGET_POSITION_VECTOR" in w for w in warnings)
    vectors = frame.metadata["label_vectors_km"]
    assert "sc_sun" not in vectors  # not trusted
    assert np.isclose(
        np.linalg.norm(vectors["sc_target"]), 182584.6915, rtol=1e-6
    )  # = TARGET_CENTER_DISTANCE


def test_io_target_and_its_absence(tmp_path):
    io = read_product(copy_real(tmp_path, TARGET_NAME='"IO"', TARGET_TYPE='"SATELLITE"'))
    assert io.metadata["target"]["io_in_view"] is True and io.metadata["target"]["io_bands"] == ["M"]
    gone = read_product(
        copy_real(
            tmp_path,
            "JIR_IMG_RDR_2017033T114007_V02",
            TARGET_NAME='"IO"',
            JNO_TARGET_PRESENCE_FLAG='"000001000000000"',
        )
    )
    assert gone.metadata["target"]["io_in_view"] is False  # Io in the L image only; this is an M-band frame
    empty = read_product(
        copy_real(tmp_path, "JIR_IMG_RDR_2017033T114008_V02", TARGET_NAME='"IO"', TARGET_PIXELS="0")
    )
    assert empty.metadata["target"]["io_in_view"] is False


def test_inconsistent_label_fields_are_reported_not_trusted(tmp_path):
    frame = read_product(
        copy_real(
            tmp_path,
            JNO_TARGET_PRESENCE_FLAG='"01x"',
            TARGET_PIXELS="99999",
            SPACECRAFT_ALTITUDE="200000.0 <km>",
        )
    )
    w = " | ".join(frame.metadata["label_warnings"])
    assert "binary digits" in w and "TARGET_PIXELS 99999" in w and "SPACECRAFT_ALTITUDE" in w
    assert frame.metadata["target"]["present"]["M"] is None
