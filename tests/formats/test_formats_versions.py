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


def _copied_product_counting_pdr_reads(small_campaign, tmp_path, monkeypatch):
    """(a copy of the campaign's first JIRAM label, with its IMG, in ``tmp_path``; the list of paths
    the whole label is parsed from from now on: ``pdr.read`` or pdr's parse alone, ``PdsLabel.read``)."""
    import shutil

    import pdr

    from ioscan.formats.jiram_pds3 import PdsLabel

    src = sorted((small_campaign.metakernel.parent.parent).glob("jiram/*/*.LBL"))[0]
    label = tmp_path / src.name
    shutil.copy(src, label)
    shutil.copy(src.with_suffix(".IMG"), label.with_suffix(".IMG"))
    calls = []
    real, parse = pdr.read, PdsLabel.read.__func__
    monkeypatch.setattr(pdr, "read", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    monkeypatch.setattr(
        PdsLabel, "read", classmethod(lambda cls, path: calls.append(str(path)) or parse(cls, path))
    )
    return label, calls


def test_identity_reads_its_keywords_without_pdrs_whole_parse(small_campaign, tmp_path, monkeypatch):
    """A scan identifies every product in its calling process: the identity reads four keywords the way pdr
    reads them, without pdr's whole parse of the label; the reader that follows parses it. A label changed
    in between (here: a new PRODUCT_VERSION_ID) reads what the file says now."""
    import os

    label, calls = _copied_product_counting_pdr_reads(small_campaign, tmp_path, monkeypatch)
    ident = product_identity(label)
    assert calls == []
    frame = read_product(label)
    assert len(calls) == 1 and frame.product_id == ident.product_id
    assert frame.product_version == ident.product_version == "01"
    import re

    text, n = re.subn(r'(PRODUCT_VERSION_ID\s*=\s*)"01"', r'\1"07"', label.read_text())
    assert n == 1
    label.write_text(text)
    os.utime(label, ns=(os.stat(label).st_atime_ns, os.stat(label).st_mtime_ns + 1_000_000))
    assert product_identity(label).product_version == read_product(label).product_version == "07"


def test_a_whole_parse_for_identity_is_reused_by_the_read(small_campaign, tmp_path, monkeypatch):
    """A scan in process identifies then reads each product: with ``quick=False`` pdr parses the label once
    for both (the identity the same as the quick one)."""
    label, calls = _copied_product_counting_pdr_reads(small_campaign, tmp_path, monkeypatch)
    whole = product_identity(label, quick=False)
    frame = read_product(label)
    assert len(calls) == 1 and whole == product_identity(label)
    assert frame.product_id == whole.product_id


#: label keywords as archives write them: (keyword, value) replaced in the real label
LABEL_VARIANTS = [
    {},
    {"PRODUCT_VERSION_ID": "2"},  # a bare number: pdr makes it an int
    {"PRODUCT_VERSION_ID": "1.10"},  # a bare float: pdr makes it 1.1
    {"PRODUCT_VERSION_ID": '"03"  /* a comment */'},
    {"PRODUCT_CREATION_TIME": '"2018-001T00:00:00"'},
    {"PRODUCT_CREATION_TIME": "N/A"},
    {"PRODUCT_ID": '"JIR_IMG_RDR_2017033T114006"'},
    {"^IMAGE": '("JIR_IMG_RDR_2017033T114006_V02.IMG", 1)'},
    {"^IMAGE": "JIR_IMG_RDR_2017033T114006_V02.IMG"},
    {"^IMAGE": '("JIR_IMG_RDR_2017033T114006_V02.IMG", 1 <BYTES>)'},
]


@pytest.mark.parametrize("changes", LABEL_VARIANTS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_quick_identity_is_pdrs(tmp_path, changes):
    """The keywords read alone give the identity pdr's whole parse of the label gives, however they are
    written; a keyword written twice leaves it to pdr."""
    from ioscan.formats.jiram_pds3 import IDENTITY_KEYWORDS, label_keywords, read_jiram_identity
    from real_label import copy_real

    label = copy_real(tmp_path, **changes)
    assert label_keywords(label, IDENTITY_KEYWORDS) is not None
    assert read_jiram_identity(label) == read_jiram_identity(label, quick=False)


def test_quick_identity_of_every_simulated_label_is_pdrs(small_campaign):
    from ioscan.formats.jiram_pds3 import read_jiram_identity

    labels = sorted((small_campaign.metakernel.parent.parent).glob("jiram/*/*.LBL"))
    assert labels
    for label in labels:
        assert read_jiram_identity(label) == read_jiram_identity(label, quick=False)


def test_a_keyword_written_twice_is_left_to_pdr(tmp_path):
    from ioscan.formats.jiram_pds3 import IDENTITY_KEYWORDS, label_keywords, read_jiram_identity
    from real_label import copy_real

    label = copy_real(tmp_path)
    text = label.read_text().replace("MD5_CHECKSUM", 'PRODUCT_VERSION_ID             = "09"\nMD5_CHECKSUM', 1)
    label.write_text(text)
    assert label_keywords(label, IDENTITY_KEYWORDS) is None
    assert read_jiram_identity(label) == read_jiram_identity(label, quick=False)


def test_the_reader_takes_the_identitys_checksum_of_unchanged_data(small_campaign, tmp_path, monkeypatch):
    """The read that follows an identity in the same process takes its checksum of the IMG (one SHA-256
    of the data, not two); data changed in between (another modification time) is hashed again."""
    import os

    import numpy as np

    from ioscan.formats import jiram_pds3

    label, _ = _copied_product_counting_pdr_reads(small_campaign, tmp_path, monkeypatch)
    hashed = []
    real = jiram_pds3.file_checksum_sha256
    monkeypatch.setattr(jiram_pds3, "file_checksum_sha256", lambda p: hashed.append(p) or real(p))
    ident = product_identity(label)
    assert read_product(label).checksum_sha256 == ident.checksum_sha256 and len(hashed) == 1
    assert read_product(label).checksum_sha256 == ident.checksum_sha256 and len(hashed) == 2  # used once
    product_identity(label)
    img = label.with_suffix(".IMG")
    data = np.fromfile(img, "<f4")
    data[0] += 1.0
    data.tofile(img)
    st = os.stat(img)
    os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert read_product(label).checksum_sha256 == real(img) != ident.checksum_sha256
