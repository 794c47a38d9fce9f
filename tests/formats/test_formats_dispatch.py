"""read_product dispatch, find_products discovery, file_checksum_sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from ioscan.errors import ProductError
from ioscan.formats import file_checksum_sha256, find_products, product_kind, read_product
from ioscan.formats.fits_ground import write_ground_fits
from ioscan.formats.jiram_pds3 import write_jiram_rdr
from ioscan.formats.pds4 import write_pds4_image


def _jiram(d: Path, pid: str, mode="I2") -> Path:
    lines = 256 if mode == "I1" else 128
    img = np.full((lines, 432), 0.01, np.float32)
    return write_jiram_rdr(
        d,
        product_id=pid,
        mode=mode,
        image=img,
        start_time_utc="2022-03-04T08:34:55",
        stop_time_utc="2022-03-04T08:34:55.012",
        sclk_start="1/1:0",
        orbit=41,
        exposure_s=0.012,
    )


def _fits(p: Path) -> Path:
    return write_ground_fits(
        p,
        image=np.ones((16, 16), np.float32),
        filter_name="Ms",
        date_obs_utc="2019-05-24T13:45:00",
        exposure_s=1.0,
    )


def _pds4(d: Path, pid: str) -> Path:
    return write_pds4_image(
        d,
        product_id=pid,
        image=np.ones((128, 432), np.float32),
        filter_name="L",
        start_time_utc="2022-03-04T08:34:55Z",
        stop_time_utc="2022-03-04T08:34:56Z",
        instrument_name="JIRAM",
        host_name="Juno",
    )


@pytest.fixture
def tree(tmp_path):
    a, b = tmp_path / "JNOJIR_2041" / "DATA", tmp_path / "keck"
    lbl1 = _jiram(a, "JIR_IMG_RDR_2022063T083455_V01")
    lbl2 = _jiram(a / "sub", "JIR_IMG_RDR_2022063T083525_V01", mode="I1")
    fit = _fits(b / "n2_0001.fits")
    fgz = _fits(b / "n2_0002.fits.gz")
    xml = _pds4(tmp_path / "pds4", "jiram_pds4_0001")
    # things that are not products we read
    spe = "JIR_SPE_RDR_2022063T083455_V01"
    (a / f"{spe}.LBL").write_text(f"PRODUCT_ID = {spe}\nEND\n")
    (a / "INDEX.LBL").write_text("PDS_VERSION_ID = PDS3\nEND\n")
    (a / "orphan.IMG").write_bytes(b"\0" * 16)
    (b / "notes.txt").write_text("hello")
    (tmp_path / "pds4" / "collection.xml").write_text("<Product_Collection/>")
    hidden = tmp_path / ".cache"
    _fits(hidden / "x.fits")
    return tmp_path, sorted([lbl1, lbl2, fit, fgz, xml], key=str)


def test_find_products_walks_and_dedupes(tree):
    root, expected = tree
    assert find_products([root]) == expected
    # deterministic, duplicates removed, explicit IMG replaced by its label
    img = expected[0].with_suffix(".IMG")
    assert find_products([root, root / "keck", img]) == expected
    assert find_products([img]) == [expected[0]]
    # an explicit non-product file is kept so that reading it reports why
    assert find_products([root / "keck" / "notes.txt"]) == [root / "keck" / "notes.txt"]


def test_read_product_dispatch(tree):
    root, expected = tree
    frames = [read_product(p) for p in expected]
    assert [f.instrument for f in frames] == ["JIRAM", "JIRAM", "NIRC2", "NIRC2", "JIRAM"]
    assert [type(f.path).__name__ for f in frames] == ["PosixPath"] * 5
    lbl = expected[0]
    via_img = read_product(lbl.with_suffix(".IMG"))
    assert via_img.path == lbl and via_img.product_id == "JIR_IMG_RDR_2022063T083455_V01"
    assert product_kind(Path("x.FITS")) == "fits" and product_kind(Path("y.xml")) == "pds4"


def test_read_product_errors(tree):
    root, _ = tree
    notes = root / "keck" / "notes.txt"
    with pytest.raises(ProductError, match="notes.txt.*unknown product kind"):
        read_product(notes)
    with pytest.raises(ProductError, match="orphan.IMG.*without a detached .LBL"):
        read_product(root / "JNOJIR_2041" / "DATA" / "orphan.IMG")
    with pytest.raises(ProductError, match="INDEX.LBL"):
        read_product(root / "JNOJIR_2041" / "DATA" / "INDEX.LBL")
    with pytest.raises(ProductError, match="missing.fits"):
        read_product(root / "missing.fits")


def test_file_checksum(tmp_path):
    p = tmp_path / "blob.bin"
    data = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)  # spans several read chunks
    p.write_bytes(data)
    assert file_checksum_sha256(p) == hashlib.sha256(data).hexdigest()
