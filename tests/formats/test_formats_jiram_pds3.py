"""JIRAM PDS3 RDR writer/reader: bit-exact round trips, label shape (pdr and pvl), bad input."""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import numpy as np
import pdr
import pytest

from ioscan.errors import ProductError
from ioscan.formats import product_identity
from ioscan.formats.jiram_pds3 import jiram_pixel_unit, read_jiram_rdr, write_jiram_rdr
from ioscan.instruments import jiram
from ioscan.records import BAND_RADIANCE_UNIT, LabelGeometry

with warnings.catch_warnings():  # pvl 1.3 warns about its own deprecated Units class on import
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    import pvl

PID = "JIR_IMG_RDR_2022063T083455_V01"
LINES = {"I1": 256, "I2": 128, "I3": 128}


def _image(lines: int, seed: int = 0) -> np.ndarray:
    """Radiance-like float32 image with the awkward values a reader must keep: NaN, ±inf, −0, subnormals."""
    rng = np.random.default_rng(seed)
    img = rng.lognormal(-6.0, 2.0, size=(lines, jiram.N_SAMPLES)) * rng.choice([-1, 1], size=(lines, 432))
    img = img.astype(np.float32)
    img[0, :5] = [np.nan, np.inf, -np.inf, -0.0, np.float32(1e-42)]
    img[lines - 1, 431] = np.nan
    return img


def _write(tmp: Path, mode: str = "I1", **kw) -> tuple[Path, np.ndarray]:
    img = kw.pop("image", None)
    if img is None:
        img = _image(LINES[mode])
    args = dict(
        product_id=PID,
        mode=mode,
        image=img,
        start_time_utc="2022-03-04T08:34:55.100",
        stop_time_utc="2022-03-04T08:34:55.112",
        sclk_start="1/699654937:00105",
        orbit=41,
        exposure_s=0.012,
    )
    args.update(kw)
    return write_jiram_rdr(tmp, **args), img


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


GEOM = LabelGeometry(
    sub_observer_lat_deg=23.5,
    sub_observer_lon_w_deg=301.25,
    sub_solar_lat_deg=-3.1,
    sub_solar_lon_w_deg=12.0,
    range_km=84321.5,
    north_pa_deg=-17.25,
    pixel_scale_km=20.05,
    disk_center_sample=215.75,
    disk_center_line=61.5,
)


@pytest.mark.parametrize("mode", ["I1", "I2", "I3"])
def test_round_trip_is_bit_exact(tmp_path, mode):
    kernels = ["juno_v12.tf", "naif0012.tls"]
    lbl, img = _write(tmp_path, mode, saturation_w_m2_sr=0.75, spice_file_names=kernels)
    # the IMG on disk is headerless little-endian float32 (independent of any reader)
    raw = np.fromfile(tmp_path / f"{PID}.IMG", dtype="<f4")
    assert raw.size == LINES[mode] * 432 and np.array_equal(_bits(raw.reshape(img.shape)), _bits(img))

    f = read_jiram_rdr(lbl)
    assert f.mode == mode and f.instrument == "JIRAM" and f.observer == "JUNO" and f.product_id == PID
    assert f.band_names == list(jiram.MODES[mode])
    rows = {"I1": {"L": (0, 128), "M": (128, 256)}, "I2": {"M": (0, 128)}, "I3": {"L": (0, 128)}}[mode]
    for name, (a, b) in rows.items():
        band = f.bands[name]
        assert band.data.dtype == np.float32 and band.data.dtype.isnative
        assert np.array_equal(_bits(band.data), _bits(img[a:b]))  # NaN positions and payloads included
        assert band.line_offset == (a if mode == "I1" else 0)
        assert band.unit == BAND_RADIANCE_UNIT
        assert band.bandwidth_um == pytest.approx({"L": 0.280, "M": 0.4975}[name], abs=1e-12)
        assert band.wavelength_um == {"L": 3.455, "M": 4.78}[name]
        assert band.spice_frame == f"JUNO_JIRAM_I_{name}BAND"
        assert band.saturation == 0.75
    assert f.time_utc == "2022-03-04T08:34:55.106000"
    assert f.exposure_s == 0.012 and f.orbit == 41
    assert f.checksum_sha256 == hashlib.sha256((tmp_path / f"{PID}.IMG").read_bytes()).hexdigest()
    assert f.metadata["spice_file_names"] == ["juno_v12.tf", "naif0012.tls"]
    assert f.label_geometry is None
    assert f.path == lbl


@pytest.mark.parametrize("mode", ["I1", "I2", "I3"])
def test_label_parses_with_pvl_and_pdr(tmp_path, mode):
    lbl, img = _write(tmp_path, mode, sub_solar_lon_e_deg=123.5, spice_file_names=["a.bc"])
    label = pvl.load(str(lbl))
    assert label["PDS_VERSION_ID"] == "PDS3"
    assert label["DATA_SET_ID"] == "JNO-J-JIRAM-3-RDR-V1.0" and label["PRODUCT_TYPE"] == "RDR"
    assert label["PRODUCT_ID"] == PID and label["TARGET_NAME"] == "IO"
    assert label["INSTRUMENT_HOST_NAME"] == "JUNO" and label["INSTRUMENT_ID"] == "JIR"
    assert label["INSTRUMENT_MODE_ID"] == f"SCI_{mode}_S1" and label["ORBIT_NUMBER"] == 41
    assert label["EXPOSURE_DURATION"].value == 0.012 and label["EXPOSURE_DURATION"].units == "s"
    assert label["SUB_SOLAR_LONGITUDE"].value == 123.5
    assert label["SUB_SPACECRAFT_LATITUDE"] == "N/A"
    assert label["M_BAND_PARAMETERS"]["CENTER_LONGITUDE"] == "N/A"
    assert label["L_BAND_PARAMETERS"]["EMISSION_ANGLE"] == "N/A"
    assert label["SPACECRAFT_CLOCK_START_COUNT"] == "1/699654937:00105"
    fobj = label["FILE"]
    assert fobj["RECORD_TYPE"] == "FIXED_LENGTH" and fobj["RECORD_BYTES"] == 432 * 4
    assert fobj["FILE_RECORDS"] == LINES[mode] and fobj["^IMAGE"] == f"{PID}.IMG"
    assert fobj["UNIT"] == "W/(m^2*sr)" and set(fobj["SPICE_FILE_NAME"]) == {"a.bc"}
    image = fobj["IMAGE"]
    assert (image["LINES"], image["LINE_SAMPLES"], image["SAMPLE_BITS"]) == (LINES[mode], 432, 32)
    assert image["SAMPLE_TYPE"] == "IEEE_REAL"  # declared big-endian, as the archive does
    # pdr's JIRAM special case applies to this label: it reads the little-endian data correctly
    data = pdr.read(str(lbl))
    arr = np.asarray(data["IMAGE"])
    assert np.array_equal(_bits(arr), _bits(img))
    assert data.metaget_("DATA_SET_ID") == "JNO-J-JIRAM-3-RDR-V1.0"


def test_label_geometry_round_trip_and_east_longitudes(tmp_path):
    lbl, _ = _write(tmp_path, "I2", label_geometry=GEOM)
    label = pvl.load(str(lbl))
    # longitudes in the label are EAST, latitudes planetocentric (smaller magnitude than planetographic)
    assert label["SUB_SPACECRAFT_LONGITUDE"].value == pytest.approx(360.0 - 301.25, abs=1e-12)
    assert label["SUB_SOLAR_LONGITUDE"].value == pytest.approx(360.0 - 12.0, abs=1e-12)
    lat_pc = label["SUB_SPACECRAFT_LATITUDE"].value
    assert 23.5 - 0.4 < lat_pc < 23.5
    assert -3.1 < label["SUB_SOLAR_LATITUDE"].value < -3.1 + 0.1
    assert label["TARGET_CENTER_DISTANCE"].value == 84321.5
    assert label["IOSCAN_PARAMETERS"]["DISK_CENTER_SAMPLE"] == 215.75
    g = read_jiram_rdr(lbl).label_geometry
    assert g is not None
    for field in (
        "sub_observer_lat_deg",
        "sub_observer_lon_w_deg",
        "sub_solar_lat_deg",
        "sub_solar_lon_w_deg",
    ):
        assert getattr(g, field) == pytest.approx(getattr(GEOM, field), abs=1e-9)
    for field in ("range_km", "north_pa_deg", "pixel_scale_km", "disk_center_sample", "disk_center_line"):
        assert getattr(g, field) == getattr(GEOM, field)


# A label with the shape of a real archive product (PDS_RDR_v9, 2017): UNIT says per micron, no
# EXPOSURE_DURATION, Jupiter-centred geometry, nested FILE object, lower-case data file name on disk.
REAL_SHAPED = """PDS_VERSION_ID                 = PDS3
DATA_SET_ID                    = "JNO-J-JIRAM-3-RDR-V1.0"
PRODUCT_ID                     = JIR_IMG_RDR_2017033T114006_V02
PRODUCT_TYPE                   = RDR
START_TIME                     = 2017-02-02T11:40:03.870
STOP_TIME                      = 2017-02-02T11:40:03.882
SPACECRAFT_CLOCK_START_COUNT   = "1/539307798:00786"
PRODUCT_CREATION_TIME          = 2017-12-14T10:17:17.000
PRODUCT_VERSION_ID             = "02"
INSTRUMENT_HOST_NAME           = "JUNO"
INSTRUMENT_ID                  = "JIR"
QUATERNION                     = ( 0.27929,
                                   -0.65052,
                                   -0.64137,
                                   -0.29576)
ORBIT_NUMBER                   = 4
TARGET_NAME                    = "JUPITER"
JNO:TARGET_PRESENCE_FLAG       = "000000000010000"
COORDINATE_SYSTEM_NAME         = "PLANETOCENTRIC"
SUB_SPACECRAFT_LATITUDE        = 73.1781 <degree>
SUB_SPACECRAFT_LONGITUDE       = 309.7766 <degree>
SUB_SOLAR_LONGITUDE            = 55.5557 <degree>
GROUP = M_BAND_PARAMETERS
   EMISSION_ANGLE         = 16.5375 <degree>
   LINE_FIRST_PIXEL       = 2
END_GROUP = M_BAND_PARAMETERS
CHANNEL_ID                     = "1"       /* 0:SPECTRUM IR; 1:IMAGE */
INSTRUMENT_MODE_ID             = SCI_I2_S1
OBJECT                         = FILE
   RECORD_TYPE                 = FIXED_LENGTH
   FILE_RECORDS                = 128
   RECORD_BYTES                = 1728
   UNIT                        = "W/(m^2*sr*micron)"
^IMAGE                         = "JIR_IMG_RDR_2017033T114006_V02.IMG"
OBJECT                        = IMAGE
   LINES                      = 128
   LINE_SAMPLES               = 432
   SAMPLE_TYPE                = IEEE_REAL
   SAMPLE_BITS                = 32
END_OBJECT                    = IMAGE
SPICE_FILE_NAME                =
{"juno_v09.tf",
"naif0012.tls"
}
END_OBJECT                     = FILE
END
"""


def test_reads_archive_shaped_label(tmp_path):
    lbl = tmp_path / "JIR_IMG_RDR_2017033T114006_V02.LBL"
    lbl.write_bytes(REAL_SHAPED.replace("\n", "\r\n").encode())
    img = _image(128, seed=3)
    (tmp_path / "jir_img_rdr_2017033t114006_v02.img").write_bytes(img.astype("<f4").tobytes())
    f = read_jiram_rdr(lbl)
    assert f.mode == "I2" and f.band_names == ["M"] and f.orbit == 4
    assert np.array_equal(_bits(f.bands["M"].data), _bits(img))
    assert f.bands["M"].unit == BAND_RADIANCE_UNIT  # the SIS rule beats the label's "per micron"
    assert f.metadata["label_unit"] == "W/(m^2*sr*micron)"
    assert f.exposure_s == pytest.approx(0.012, abs=1e-9)
    assert f.time_utc == "2017-02-02T11:40:03.876000"
    assert f.label_geometry is None and f.metadata["label_geometry_partial"] == {}  # Jupiter, not Io
    assert f.bands["M"].saturation is None
    assert pvl.loads(REAL_SHAPED)["FILE"]["IMAGE"]["LINES"] == 128
    # the archive's versioning: ID with _V02, PRODUCT_VERSION_ID "02", when this version was made
    assert f.product_id == "JIR_IMG_RDR_2017033T114006_V02"
    assert (f.base_product_id, f.product_version) == ("JIR_IMG_RDR_2017033T114006", "02")
    assert f.product_created_utc == "2017-12-14T10:17:17.000000"
    ident = product_identity(lbl)
    assert (ident.product_id, ident.base_product_id, ident.product_version, ident.product_created_utc) == (
        f.product_id,
        f.base_product_id,
        f.product_version,
        f.product_created_utc,
    )
    assert ident.checksum_sha256 == f.checksum_sha256


def test_sub_millisecond_times_are_kept(tmp_path):
    lbl, _ = _write(
        tmp_path,
        "I3",
        start_time_utc="2022-03-04T08:34:55.100250Z",
        stop_time_utc="2022-03-04T08:34:55.112250Z",
    )
    assert pvl.load(str(lbl))["START_TIME"].microsecond == 100250
    assert read_jiram_rdr(lbl).time_utc == "2022-03-04T08:34:55.106250"


def test_unit_rule():
    for text in ("W/(m^2*sr)", "W/(m^2*sr*micron)", "W/(m^2 * sr)", None, "N/A"):
        assert jiram_pixel_unit(text) == BAND_RADIANCE_UNIT
    with pytest.raises(ProductError, match="X.LBL.*DN"):
        jiram_pixel_unit("DN", where="X.LBL")


# ------------------------------------------------------------------------------------------- bad input


def _expect(lbl: Path, match: str, name: str | None = None):
    with pytest.raises(ProductError) as err:
        read_jiram_rdr(lbl)
    msg = str(err.value)
    assert (name or lbl.name) in msg, msg
    assert match.lower() in msg.lower(), msg


def test_missing_img(tmp_path):
    lbl, _ = _write(tmp_path, "I3")
    (tmp_path / f"{PID}.IMG").unlink()
    _expect(lbl, "missing")


def test_missing_label(tmp_path):
    _expect(tmp_path / "NOPE.LBL", "not found")


def test_truncated_img(tmp_path):
    lbl, _ = _write(tmp_path, "I1")
    img = tmp_path / f"{PID}.IMG"
    img.write_bytes(img.read_bytes()[:-4])
    _expect(lbl, "truncated", img.name)


def test_img_size_disagrees_with_lines(tmp_path):
    lbl, _ = _write(tmp_path, "I2")
    img = tmp_path / f"{PID}.IMG"
    img.write_bytes(img.read_bytes() + b"\0" * 1728)
    _expect(lbl, "disagree", img.name)


def test_lines_do_not_fit_mode(tmp_path):
    lbl, _ = _write(tmp_path, "I2")
    lbl.write_text(lbl.read_text().replace("SCI_I2_S1", "SCI_I1_S1"))
    _expect(lbl, "does not fit mode I1")


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("DATA_SET_ID", "JNO-J-UVS-3-RDR-V1.0", "DATA_SET_ID"),
        ("INSTRUMENT_ID", "UVS", "INSTRUMENT_ID"),
    ],
)
def test_unknown_data_set_or_instrument(tmp_path, key, value, match):
    lbl, _ = _write(tmp_path, "I1", extra={key: value})
    _expect(lbl, match)


def test_non_imager_mode(tmp_path):
    lbl, _ = _write(tmp_path, "I2")
    lbl.write_text(lbl.read_text().replace("= SCI_I2_S1", "= SCI_S3"))
    _expect(lbl, "not an imager mode")


@pytest.mark.parametrize("text", ["\x00\x01garbage = = {{", "", "PDS_VERSION_ID = PDS3\nFOO = (1,\nEND\n"])
def test_unparseable_label(tmp_path, text):
    lbl = tmp_path / "BROKEN.LBL"
    lbl.write_text(text)
    _expect(lbl, "unparseable")


def test_writer_refuses_wrong_shapes(tmp_path):
    with pytest.raises(ValueError, match="I2"):
        _write(tmp_path, "I2", image=np.zeros((256, 432), np.float32))
    with pytest.raises(ValueError, match="float32"):
        _write(tmp_path, "I3", image=np.zeros((128, 432), np.float64))


def test_repeated_reads_give_the_same_frame(tmp_path):
    """Reads after the first (label index and checksum cached by path, time and size) give the same frame
    (speed: bench_scan's read stage)."""
    lbl, _ = _write(tmp_path, "I1", label_geometry=GEOM, spice_file_names=["a.bc", "b.bsp"])
    first = read_jiram_rdr(lbl)
    for _ in range(3):
        again = read_jiram_rdr(lbl)
        assert again.product_id == first.product_id
        for b in first.bands:
            np.testing.assert_array_equal(again.bands[b].data, first.bands[b].data)


@pytest.mark.parametrize("mode", ["I1", "I2", "I3"])
def test_pixels_read_as_pdr_reads_them(tmp_path, mode):
    """The reader takes a plain IMAGE's pixels straight from the file (numpy at the label's offset): the
    values pdr's loader gives (its JIRAM special case, little-endian), bit for bit."""
    lbl, img = _write(tmp_path, mode)
    f = read_jiram_rdr(lbl)
    arr = np.asarray(pdr.read(str(lbl))["IMAGE"])
    if arr.dtype.byteorder == ">":
        arr = arr.view(arr.dtype.newbyteorder("<"))
    for band in f.bands.values():
        ref = arr[band.line_offset : band.line_offset + band.data.shape[0]]
        assert band.data.dtype == np.float32 and np.array_equal(_bits(band.data), _bits(ref))


def test_pixels_with_line_prefix_bytes_go_through_pdr(tmp_path):
    from ioscan.formats import jiram_pds3 as mod

    lbl, img = _write(tmp_path, "I3")
    data = pdr.read(str(lbl))
    loads = []

    class Counting:  # pdr's Data, counting the IMAGE loads
        def __getitem__(self, key):
            loads.append(key)
            return data[key]

    block = dict(data.metablock_("IMAGE"), LINE_PREFIX_BYTES=0)
    img_path = tmp_path / f"{PID}.IMG"
    plain = mod._image_pixels(Counting(), block, img_path, 0, 128, 432, lbl.name)
    assert not loads
    block["LINE_PREFIX_BYTES"] = 8  # not a plain image: pdr reads it (here the same bytes)
    via_pdr = mod._image_pixels(Counting(), block, img_path, 0, 128, 432, lbl.name)
    assert loads == ["IMAGE"]
    assert np.array_equal(_bits(plain), _bits(img)) and np.array_equal(_bits(via_pdr), _bits(img))


def _pdr_and_ours(lbl: Path):
    from ioscan.formats.jiram_pds3 import PdsLabel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pdr.read(str(lbl)).metadata, PdsLabel.read(lbl)


@pytest.mark.parametrize("mode", ["I1", "I2", "I3", "real"])
def test_label_values_are_pdrs(tmp_path, mode):
    """The reader's parse of a label (PdsLabel: pdr's parse without ``pdr.read``'s set-up) gives every key
    pdr's ``metaget_`` and ``metablock_`` give — values (repr: types and floats to the bit) and blocks, keys
    absent, repeated (SPICE_FILE_NAME is a set; a top-level key written again inside a block) and nested."""
    from real_label import copy_real

    if mode == "real":
        lbl = copy_real(tmp_path)
    else:
        lbl, _ = _write(tmp_path, mode, label_geometry=GEOM, spice_file_names=["a.bc", "b.bsp"])
    # TARGET_NAME again inside the two innermost objects (IMAGE, then FILE)
    text = re.sub(r"(?m)^(\s*END_OBJECT\b)", r'TARGET_NAME = "JUPITER"\n\1', lbl.read_text(), count=2)
    lbl.write_text(text)
    theirs, ours = _pdr_and_ours(lbl)
    assert theirs.fieldcounts["TARGET_NAME"] == 3
    keys = [*theirs.fieldcounts, "NOT_A_KEYWORD"]
    assert len(keys) > 40
    for key in keys:
        assert repr(ours.metaget_(key, "default")) == repr(theirs.metaget_(key, "default")), key
        block, whole = theirs.metablock_(key), ours.metablock_(key)
        if block is theirs:  # not a block: the whole label
            assert whole is ours.mapping and list(whole.items()) == list(theirs.items()), key
        else:
            assert repr(whole) == repr(block), key
