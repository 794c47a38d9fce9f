"""Ground-based FITS writer/reader: byte order, header conventions, geometry keywords, bad input."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from astropy.io import fits

from ioscan.errors import ProductError
from ioscan.formats.fits_ground import filter_from_header, read_ground_fits, write_ground_fits
from ioscan.instruments import nirc2
from ioscan.records import BAND_RADIANCE_UNIT, SPECTRAL_RADIANCE_UNIT, LabelGeometry

GEOM = LabelGeometry(
    sub_observer_lat_deg=-2.75,
    sub_observer_lon_w_deg=318.4,
    sub_solar_lat_deg=-2.9,
    sub_solar_lon_w_deg=327.1,
    range_km=6.31e8,
    north_pa_deg=21.3,
    pixel_scale_km=30.4,
    disk_center_sample=128.25,
    disk_center_line=120.5,
)


def _image(seed=0, shape=(240, 256)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.gamma(2.0, 0.05, size=shape).astype(np.float32)
    img.reshape(-1)[:4] = [np.nan, np.inf, -0.0, np.float32(1e-41)]
    return img


def _bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def _write(path, **kw):
    args = dict(
        image=_image(),
        filter_name="Lp",
        date_obs_utc="2019-05-24T13:45:01.5",
        exposure_s=10.0,
        saturation=12.5,
        product_id="N2.20190524.49501",
    )
    args.update(kw)
    return write_ground_fits(path, **args)


@pytest.mark.parametrize("big_endian", [True, False])
def test_round_trip_bit_exact_and_native(tmp_path, big_endian):
    img = _image(1)
    p = _write(tmp_path / "f.fits", image=img, big_endian=big_endian, label_geometry=GEOM)
    on_disk = fits.getdata(p)  # astropy's own view: big-endian float32, as FITS stores it
    assert on_disk.dtype == np.dtype(">f4") and np.array_equal(_bits(on_disk), _bits(img))
    f = read_ground_fits(p)
    band = f.bands["Lp"]
    assert band.data.dtype == np.float32 and band.data.dtype.isnative
    assert np.array_equal(_bits(band.data), _bits(img))
    assert f.observer == "EARTH" and f.instrument == "NIRC2" and f.product_id == "N2.20190524.49501"
    assert band.unit == SPECTRAL_RADIANCE_UNIT and band.saturation == 12.5
    lp = nirc2.FILTERS["Lp"]
    assert (band.wavelength_um, band.bandwidth_um) == (lp.center_um, lp.bandwidth_um)
    assert f.time_utc == "2019-05-24T13:45:06.500000" and f.exposure_s == 10.0  # mid-exposure
    assert f.label_geometry == GEOM
    assert f.checksum_sha256 == hashlib.sha256(p.read_bytes()).hexdigest()


def test_byte_order_of_input_does_not_change_the_file(tmp_path):
    img = _image(2)
    a = _write(tmp_path / "a.fits", image=img, big_endian=True)
    b = _write(tmp_path / "b.fits", image=img.astype("<f4"), big_endian=False)
    assert a.read_bytes() == b.read_bytes()


def test_header_keywords(tmp_path):
    p = _write(tmp_path / "h.fits", label_geometry=GEOM, coadds=4, extra={"AIRMASS": 1.2})
    h = fits.getheader(p)
    assert h["DATE-OBS"] == "2019-05-24T13:45:01.500000" and h["DATE-AVG"] == "2019-05-24T13:45:06.500000"
    assert h["FILTER"] == "Lp" and h["EXPTIME"] == 10.0 and h["ITIME"] == 2.5 and h["COADDS"] == 4
    assert h["TARGNAME"] == "IO" and h["OBJECT"] == "IO" and h["TELESCOP"] == "Keck II"
    assert h["INSTRUME"] == "NIRC2" and h["PIXSCALE"] == nirc2.PLATE_SCALE_ARCSEC
    assert h["BUNIT"] == "W m-2 sr-1 um-1" and h["SATURATE"] == 12.5 and h["BITPIX"] == -32
    assert (h["IO_SOLON"], h["IO_CX"], h["IO_CY"], h["IO_NPA"]) == (318.4, 128.25, 120.5, 21.3)
    assert h["AIRMASS"] == 1.2


def test_gzip_and_no_geometry(tmp_path):
    img = _image(3)
    p = _write(tmp_path / "g.fits.gz", image=img, filter_name="Ms")
    f = read_ground_fits(p)
    assert f.label_geometry is None and f.band_names == ["Ms"]
    assert np.array_equal(_bits(f.bands["Ms"].data), _bits(img))


def test_raw_nirc2_style_header(tmp_path):
    """Date-only DATE-OBS + UTC, wheel names, image in an extension, mW units, BSCALE'd integers."""
    ints = np.arange(120, dtype=np.int16).reshape(10, 12)
    prim = fits.PrimaryHDU()
    prim.header.update(
        {
            "DATE-OBS": "2019-05-24",
            "UTC": "13:45:01.25",
            "FILTER": "clear + Ms",
            "INSTRUME": "NIRC2",
            "EXPTIME": 2.0,
            "SATURATE": 1000.0,
        }
    )
    ext = fits.ImageHDU(ints)
    ext.header.update({"BSCALE": 0.5, "BZERO": 10.0, "BUNIT": "mW m-2 sr-1 um-1"})
    path = tmp_path / "raw.fits"
    fits.HDUList([prim, ext]).writeto(path)
    f = read_ground_fits(path)
    expected = (ints.astype(np.float64) * 0.5 + 10.0) * 1e-3
    assert np.allclose(f.bands["Ms"].data, expected, rtol=1e-6)
    assert f.bands["Ms"].unit == SPECTRAL_RADIANCE_UNIT
    assert f.bands["Ms"].saturation == pytest.approx(1.0)
    assert f.time_utc == "2019-05-24T13:45:02.250000"


def test_band_radiance_unit_and_squeezed_cube(tmp_path):
    cube = _image(4, (1, 20, 30))
    path = tmp_path / "c.fits"
    fits.PrimaryHDU(
        cube,
        header=fits.Header(
            {"DATE-OBS": "2020-01-01T00:00:00", "FILTER": "PAH", "BUNIT": "W/(m2 sr)", "EXPTIME": 1.0}
        ),
    ).writeto(path)
    f = read_ground_fits(path)
    assert f.bands["PAH"].unit == BAND_RADIANCE_UNIT and f.bands["PAH"].shape == (20, 30)
    assert np.array_equal(_bits(f.bands["PAH"].data), _bits(cube[0]))


def test_filter_names():
    assert filter_from_header("Lp + clear").name == "Lp"
    assert filter_from_header("open + Br_alpha").name == "BrA"
    assert filter_from_header("kcont").name == "Kc"
    with pytest.raises(ProductError, match="x.fits"):
        filter_from_header("Lp + Ms", where="x.fits")


# ------------------------------------------------------------------------------------------- bad input


def _expect(path, match):
    with pytest.raises(ProductError) as err:
        read_ground_fits(path)
    assert path.name in str(err.value) and match.lower() in str(err.value).lower(), str(err.value)


def _raw(path, data, **header):
    fits.PrimaryHDU(data, header=fits.Header(header)).writeto(path)
    return path


GOOD = {"DATE-OBS": "2020-01-01T00:00:00", "FILTER": "Lp", "BUNIT": "W m-2 sr-1 um-1", "EXPTIME": 1.0}


def test_no_date_obs(tmp_path):
    hdr = {k: v for k, v in GOOD.items() if k != "DATE-OBS"}
    _expect(_raw(tmp_path / "nodate.fits", _image(5, (8, 8)), **hdr), "DATE-OBS")


def test_unknown_filter(tmp_path):
    _expect(_raw(tmp_path / "filt.fits", _image(5, (8, 8)), **{**GOOD, "FILTER": "J"}), "unknown filter")


def test_no_image_data(tmp_path):
    _expect(_raw(tmp_path / "empty.fits", None, **GOOD), "no image data")


def test_cube_without_a_plane(tmp_path):
    _expect(_raw(tmp_path / "cube.fits", _image(5, (3, 8, 8)), **GOOD), "no single image plane")


def test_uncalibrated(tmp_path):
    _expect(_raw(tmp_path / "dn.fits", _image(5, (8, 8)), **{**GOOD, "BUNIT": "DN"}), "BUNIT")
    hdr = {k: v for k, v in GOOD.items() if k != "BUNIT"}
    _expect(_raw(tmp_path / "nounit.fits", _image(5, (8, 8)), **hdr), "calibrated")


def test_partial_geometry(tmp_path):
    _expect(_raw(tmp_path / "geo.fits", _image(5, (8, 8)), **GOOD, IO_SOLAT=1.0, IO_SOLON=2.0), "IO_SSLAT")


def test_not_fits(tmp_path):
    p = tmp_path / "junk.fits"
    p.write_bytes(b"not a fits file at all" * 10)
    _expect(p, "not a readable FITS")
    _expect(tmp_path / "absent.fits", "not found")
