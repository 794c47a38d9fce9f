"""PDS4 Array_2D_Image writer/reader (pdr): round trips, JIRAM byte-order quirk, bad input."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET

import numpy as np
import pdr
import pytest

from ioscan.errors import ProductError
from ioscan.formats.pds4 import read_pds4, write_pds4_image
from ioscan.instruments import jiram, nirc2
from ioscan.records import BAND_RADIANCE_UNIT, SPECTRAL_RADIANCE_UNIT

PID = "JIR_IMG_RDR_2022063T083455_V01"
NS = {"p": "http://pds.nasa.gov/pds4/pds/v1"}


def _image(lines, samples=432, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.lognormal(-5.0, 1.5, size=(lines, samples)).astype(np.float32)
    img[0, :3] = [np.nan, -0.0, np.float32(2e-40)]
    return img


def _bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def _jiram(tmp, img, **kw):
    args = dict(
        product_id=PID,
        image=img,
        start_time_utc="2022-03-04T08:34:55.100Z",
        stop_time_utc="2022-03-04T08:34:55.112Z",
        instrument_name="Jovian Infrared Auroral Mapper",
        host_name="Juno",
        exposure_s=0.012,
    )
    args.update(kw)
    return write_pds4_image(tmp, **args)


def test_jiram_m_band_round_trip(tmp_path):
    img = _image(128)
    xml = _jiram(tmp_path, img, filter_name="M")
    root = ET.parse(xml).getroot()  # well-formed, and the pieces a PDS4 reader looks for are where expected
    assert root.find("p:Observation_Area/p:Time_Coordinates/p:start_date_time", NS).text.endswith("Z")
    assert (
        root.find("p:File_Area_Observational/p:Array_2D_Image/p:Element_Array/p:data_type", NS).text
        == "IEEE754LSBSingle"
    )
    assert "image" in list(pdr.read(str(xml)).keys())
    f = read_pds4(xml)
    assert f.instrument == "JIRAM" and f.observer == "JUNO" and f.mode == "I2" and f.product_id == PID
    band = f.bands["M"]
    assert np.array_equal(_bits(band.data), _bits(img)) and band.data.dtype.isnative
    assert band.unit == BAND_RADIANCE_UNIT and band.spice_frame == "JUNO_JIRAM_I_MBAND"
    assert band.bandwidth_um == jiram.M_BAND.bandwidth_um
    assert f.time_utc == "2022-03-04T08:34:55.106000" and f.exposure_s == 0.012
    assert f.checksum_sha256 == hashlib.sha256((tmp_path / f"{PID}.img").read_bytes()).hexdigest()
    assert f.metadata["byte_order_overridden"] is False


def test_jiram_i1_split(tmp_path):
    img = _image(256, seed=1)
    f = read_pds4(_jiram(tmp_path, img))
    assert f.mode == "I1" and f.band_names == ["L", "M"] and f.bands["M"].line_offset == 128
    assert np.array_equal(_bits(f.bands["L"].data), _bits(img[:128]))
    assert np.array_equal(_bits(f.bands["M"].data), _bits(img[128:]))


def test_jiram_quirk_lsb_data_declared_msb(tmp_path):
    img = _image(128, seed=2)
    xml = _jiram(tmp_path, img, filter_name="L", little_endian=True, declare_big_endian=True)
    naive = np.asarray(pdr.read(str(xml))["image"])  # what trusting the label gives: garbage
    assert not np.array_equal(_bits(naive), _bits(img))
    f = read_pds4(xml)
    assert np.array_equal(_bits(f.bands["L"].data), _bits(img)) and f.metadata["byte_order_overridden"]


def test_jiram_honest_big_endian_is_not_swapped(tmp_path):
    img = _image(128, seed=3)
    f = read_pds4(_jiram(tmp_path, img, filter_name="L", little_endian=False))
    assert np.array_equal(_bits(f.bands["L"].data), _bits(img)) and not f.metadata["byte_order_overridden"]


@pytest.mark.parametrize("little_endian", [True, False])
def test_nirc2_round_trip(tmp_path, little_endian):
    img = _image(64, 80, seed=4)
    xml = write_pds4_image(
        tmp_path,
        product_id="n2_lp_0001",
        image=img,
        start_time_utc="2019-05-24T13:45:00Z",
        stop_time_utc="2019-05-24T13:45:10Z",
        instrument_name="NIRC2",
        host_name="Keck II",
        host_type="Telescope",
        investigation_name="Io monitoring",
        filter_name="Lp",
        unit="W*m**-2*sr**-1*micron**-1",
        little_endian=little_endian,
    )
    f = read_pds4(xml)
    assert f.instrument == "NIRC2" and f.observer == "EARTH" and f.mode is None
    band = f.bands["Lp"]
    assert np.array_equal(_bits(band.data), _bits(img)) and band.unit == SPECTRAL_RADIANCE_UNIT
    assert band.wavelength_um == nirc2.FILTERS["Lp"].center_um
    assert f.exposure_s == 10.0 and f.time_utc == "2019-05-24T13:45:05.000000"


# ------------------------------------------------------------------------------------------- bad input


def _expect(path, match, name=None):
    with pytest.raises(ProductError) as err:
        read_pds4(path)
    msg = str(err.value)
    assert (name or path.name) in msg and match.lower() in msg.lower(), msg


def test_missing_and_truncated_data(tmp_path):
    xml = _jiram(tmp_path, _image(128), filter_name="M")
    data = tmp_path / f"{PID}.img"
    data.write_bytes(data.read_bytes()[:1000])
    _expect(xml, "truncated", data.name)
    data.unlink()
    _expect(xml, "missing")


def test_unknown_instrument(tmp_path):
    _expect(_jiram(tmp_path, _image(128), instrument_name="VIMS", filter_name="M"), "instrument registry")


def test_jiram_128_lines_without_filter(tmp_path):
    _expect(_jiram(tmp_path, _image(128)), "filter_name")


def test_not_xml(tmp_path):
    p = tmp_path / "bad.xml"
    p.write_text("<Product_Observational><unclosed>")
    _expect(p, "unparseable")
    q = tmp_path / "bundle.xml"
    q.write_text('<Product_Bundle xmlns="http://pds.nasa.gov/pds4/pds/v1"/>')
    _expect(q, "not a Product_Observational")
