"""Product identity without reading pixels: version in the ID or the label, numeric version order, and the
same answer from the identity reader as from the full reader, for every format."""

from __future__ import annotations

import numpy as np
import pytest

from ioscan.formats import product_identity, read_product
from ioscan.formats.versions import split_version, version_key


@pytest.mark.parametrize(
    ("product_id", "declared", "expected"),
    [
        ("JIR_IMG_RDR_2017033T114006_V02", None, ("JIR_IMG_RDR_2017033T114006", "02")),
        ("JIR_IMG_RDR_2017033T114006_V02", '"02"', ("JIR_IMG_RDR_2017033T114006", "02")),
        ("jir_img_rdr_2017033t114006_v10", None, ("jir_img_rdr_2017033t114006", "10")),
        ("NIRC2_20170330_100000_Lp", None, ("NIRC2_20170330_100000_Lp", None)),
        ("jir_img_rdr_2017033t114006", "1.0", ("jir_img_rdr_2017033t114006", "1.0")),
        ("JIR_IMG_RDR_2017033T114006_V01", "2", ("JIR_IMG_RDR_2017033T114006", "2")),  # the label wins
    ],
)
def test_split_version(product_id, declared, expected):
    assert split_version(product_id, declared) == expected


def test_versions_order_as_numbers():
    ordered = [None, "01", "2", "02b", "10", "1.0.1"]
    assert version_key("9") < version_key("10") and version_key("02") == version_key("2")
    assert version_key("1.0") < version_key("1.1") < version_key("1.10")
    assert version_key(None) < version_key("0") and version_key("") == version_key(None)
    assert sorted(ordered, key=version_key)[0] is None


def test_identity_agrees_with_the_reader_for_every_format(small_campaign, tmp_path):
    from ioscan.formats.pds4 import write_pds4_image

    root = small_campaign.metakernel.parent.parent
    products = [sorted(root.glob("jiram/*/*.LBL"))[0], sorted(root.glob("ground/*.fits"))[0]]
    products.append(
        write_pds4_image(
            tmp_path,
            product_id="jir_img_rdr_2022063t083455_v03",
            image=np.ones((128, 432), np.float32),
            start_time_utc="2022-03-04T08:34:55",
            stop_time_utc="2022-03-04T08:34:55.012",
            instrument_name="JIRAM",
            host_name="Juno",
            filter_name="M",
            unit="W/(m**2*sr)",
        )
    )
    for path in products:
        ident, frame = product_identity(path), read_product(path)
        assert ident.product_id == frame.product_id
        assert ident.base_product_id == (frame.base_product_id or frame.product_id)
        assert ident.product_version == frame.product_version
        assert ident.checksum_sha256 == frame.checksum_sha256
    jiram, ground, pds4 = (product_identity(p) for p in products)
    assert jiram.product_version == "01" and not jiram.base_product_id.endswith("_V01")
    assert ground.product_version is None
    assert pds4.base_product_id == "JIR_IMG_RDR_2022063T083455" and pds4.product_version == "1.0"


def test_reader_reuses_the_label_identity_parsed_if_unchanged(small_campaign, tmp_path, monkeypatch):
    """A scan identifies a product, then reads it: pdr parses the label once. A label changed in between
    (here: a new PRODUCT_VERSION_ID) is parsed again, and the read says what the file says now."""
    import os
    import shutil

    import pdr

    from ioscan.formats import jiram_pds3

    src = sorted((small_campaign.metakernel.parent.parent).glob("jiram/*/*.LBL"))[0]
    label = tmp_path / src.name
    shutil.copy(src, label)
    shutil.copy(src.with_suffix(".IMG"), label.with_suffix(".IMG"))
    calls = []
    real = pdr.read
    monkeypatch.setattr(pdr, "read", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    fresh = read_product(label)  # nothing cached: parsed
    ident = product_identity(label)
    frame = read_product(label)
    assert len(calls) == 2  # the read reused the identity's parse
    assert frame.product_id == ident.product_id == fresh.product_id
    np.testing.assert_array_equal(frame.bands["M"].data, fresh.bands["M"].data)
    assert jiram_pds3._label_key(label) not in jiram_pds3._PARSED  # used once
    product_identity(label)
    import re

    text, n = re.subn(r'(PRODUCT_VERSION_ID\s*=\s*)"01"', r'\1"07"', label.read_text())
    assert n == 1  # the same size: only the modification time tells the change
    label.write_text(text)
    os.utime(label, ns=(os.stat(label).st_atime_ns, os.stat(label).st_mtime_ns + 1_000_000))
    changed = read_product(label)
    assert len(calls) == 4 and changed.product_version == "07"
