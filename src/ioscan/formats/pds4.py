"""PDS4 image products (``Product_Observational`` with an ``Array_2D_Image``): reader via pdr, small writer.

Reader scope: one float ``Array_2D_Image`` (IEEE754 single or double, either byte order) in a detached
data file. What is taken from the label:

* instrument: ``Observation_Area/Observing_System/Observing_System_Component[type=Instrument]/name``;
  JIRAM ("JIRAM", "Jovian Infrared Auroral Mapper") → instrument ``JIRAM``, observer ``JUNO``; NIRC2 →
  ``NIRC2``, observer ``EARTH``; any other instrument is refused (no band table for it).
* band: ``img:filter_name`` (Discipline_Area, imaging dictionary). JIRAM: ``L``/``M`` for 128-line images,
  a 256-line image is I1 (L rows 0–127, M rows 128–255) whatever the filter says; NIRC2: filter names as in
  :func:`ioscan.formats.fits_ground.filter_from_header`.
* unit: ``Element_Array/unit``. JIRAM values follow the SIS rule of
  :func:`ioscan.formats.jiram_pds3.jiram_pixel_unit` (band radiance); others go through astropy.units.
* time: ``Time_Coordinates`` start/stop → mid-exposure; exposure ``img:exposure_duration`` (s) or
  stop − start. ``product_id``: last field of ``logical_identifier``.
* JIRAM quirk: archive users report that JIRAM's PDS4 labels, like its PDS3 ones, declare big-endian floats
  over little-endian data; pdr 1.4.4 special-cases only the PDS3 labels. For a JIRAM array declared
  big-endian the reader compares both byte orders and swaps when the swapped values are clearly the
  plausible radiances (more than half the pixels more plausible; ``metadata["byte_order_overridden"]``).
  This has not been checked against a real JIRAM PDS4 product here.

The writer makes a minimal label with the structure of the PDS4 information model (1.18) and the imaging
discipline dictionary; it is not schema-validated (no XSD is available offline).
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from ioscan.errors import ProductError
from ioscan.formats._common import file_checksum_sha256, iso_utc, mid_time, parse_utc, radiance_unit_and_scale
from ioscan.instruments import Instrument, UnknownInstrumentError, get_instrument, instruments, jiram
from ioscan.records import BandImage, Frame

_DTYPES = {
    "IEEE754LSBSingle": "<f4",
    "IEEE754MSBSingle": ">f4",
    "IEEE754LSBDouble": "<f8",
    "IEEE754MSBDouble": ">f8",
}


# ----------------------------------------------------------------------------------------------- writer


def write_pds4_image(
    out_dir: Path,
    *,
    product_id: str,
    image: np.ndarray,
    start_time_utc: str,
    stop_time_utc: str,
    instrument_name: str,
    host_name: str,
    host_type: str = "Spacecraft",
    investigation_name: str = "Juno",
    filter_name: str | None = None,
    unit: str = "W/(m**2*sr)",
    exposure_s: float | None = None,
    target: str = "Io",
    little_endian: bool = True,
    declare_big_endian: bool | None = None,
) -> Path:
    """Write ``<product_id>.img`` (raw float32) and ``<product_id>.xml`` (PDS4 label). Returns the label path.

    Args:
        image: 2-D float32 array (lines × samples).
        instrument_name, host_name, host_type: Observing_System components (e.g. "JIRAM", "Juno",
            "Spacecraft"; or "NIRC2", "Keck II", "Telescope").
        filter_name: ``img:filter_name`` (JIRAM "L"/"M", NIRC2 "Lp"...), omitted when None.
        unit: ``Element_Array/unit`` string.
        little_endian: byte order of the data written.
        declare_big_endian: data type declared in the label; default: the true order. Set it against
            ``little_endian`` to reproduce the JIRAM archive quirk.
    """
    img = np.asarray(image)
    if img.dtype != np.float32 or img.ndim != 2:
        raise ValueError(f"image must be 2-D float32, got {img.dtype} {img.shape}")
    start = parse_utc(start_time_utc, where=product_id, what="start_time_utc")
    stop = parse_utc(stop_time_utc, where=product_id, what="stop_time_utc")
    big = (not little_endian) if declare_big_endian is None else declare_big_endian
    data_type = "IEEE754MSBSingle" if big else "IEEE754LSBSingle"
    data_name = f"{product_id}.img"
    disc = []
    if exposure_s is not None:
        disc.append(
            f'<img:Exposure><img:exposure_duration unit="s">{float(exposure_s)!r}'
            "</img:exposure_duration></img:Exposure>"
        )
    if filter_name is not None:
        disc.append(
            f"<img:Optical_Filter><img:filter_name>{escape(filter_name)}</img:filter_name>"
            "</img:Optical_Filter>"
        )
    discipline = (
        "<Discipline_Area><img:Imaging>" + "".join(disc) + "</img:Imaging></Discipline_Area>" if disc else ""
    )
    lines, samples = img.shape
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<Product_Observational xmlns="http://pds.nasa.gov/pds4/pds/v1" xmlns:img="http://pds.nasa.gov/pds4/img/v1"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Identification_Area>
    <logical_identifier>urn:nasa:pds:ioscan_simulated:data:{escape(product_id.lower())}</logical_identifier>
    <version_id>1.0</version_id>
    <title>{escape(product_id)} (ioscan simulated product)</title>
    <information_model_version>1.18.0.0</information_model_version>
    <product_class>Product_Observational</product_class>
  </Identification_Area>
  <Observation_Area>
    <Time_Coordinates>
      <start_date_time>{iso_utc(start)}Z</start_date_time>
      <stop_date_time>{iso_utc(stop)}Z</stop_date_time>
    </Time_Coordinates>
    <Investigation_Area>
      <name>{escape(investigation_name)}</name>
      <type>Mission</type>
      <Internal_Reference>
        <lid_reference>urn:nasa:pds:context:investigation:mission.{escape(investigation_name.lower())}</lid_reference>
        <reference_type>data_to_investigation</reference_type>
      </Internal_Reference>
    </Investigation_Area>
    <Observing_System>
      <Observing_System_Component>
        <name>{escape(host_name)}</name>
        <type>{escape(host_type)}</type>
      </Observing_System_Component>
      <Observing_System_Component>
        <name>{escape(instrument_name)}</name>
        <type>Instrument</type>
      </Observing_System_Component>
    </Observing_System>
    <Target_Identification>
      <name>{escape(target)}</name>
      <type>Satellite</type>
    </Target_Identification>
    {discipline}
  </Observation_Area>
  <File_Area_Observational>
    <File>
      <file_name>{escape(data_name)}</file_name>
    </File>
    <Array_2D_Image>
      <local_identifier>image</local_identifier>
      <offset unit="byte">0</offset>
      <axes>2</axes>
      <axis_index_order>Last Index Fastest</axis_index_order>
      <Element_Array>
        <data_type>{data_type}</data_type>
        <unit>{escape(unit)}</unit>
      </Element_Array>
      <Axis_Array>
        <axis_name>Line</axis_name>
        <elements>{lines}</elements>
        <sequence_number>1</sequence_number>
      </Axis_Array>
      <Axis_Array>
        <axis_name>Sample</axis_name>
        <elements>{samples}</elements>
        <sequence_number>2</sequence_number>
      </Axis_Array>
    </Array_2D_Image>
  </File_Area_Observational>
</Product_Observational>
"""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / data_name).write_bytes(img.astype("<f4" if little_endian else ">f4").tobytes())
    label = out_dir / f"{product_id}.xml"
    label.write_text(xml, encoding="utf-8")
    return label


# ----------------------------------------------------------------------------------------------- reader


def _xml(label_path: Path):
    """Parse the label with the standard library (fast, and gives exact element paths)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(label_path).getroot()
    except ET.ParseError as exc:
        raise ProductError(f"{label_path.name}: unparseable XML label ({exc})") from exc
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(elem, *names):
    """First descendant path matching local names (namespace-agnostic), or None."""
    cur = [elem]
    for name in names:
        nxt = [c for e in cur for c in e.iter() if _local(c.tag) == name and c is not e]
        if not nxt:
            return None
        cur = nxt[:1]
    return cur[0]


def _text(elem, *names) -> str | None:
    e = _find(elem, *names)
    return None if e is None or e.text is None else e.text.strip()


def _plausible_fraction(a: np.ndarray) -> float:
    """Fraction of pixels that look like radiances (finite, zero or 1e-30 < |x| < 1e6)."""
    with np.errstate(all="ignore"):
        x = np.abs(a.astype(np.float64))
        ok = np.isfinite(x) & ((x == 0) | ((x > 1e-30) & (x < 1e6)))
    return float(ok.mean()) if ok.size else 0.0


def _registered_instrument(inst_name: str, where: str) -> Instrument:
    """The registry's instrument for an Observing_System_Component name: an exact name or alias, else the one
    whose name or alias the label's name contains ("Juno JIRAM")."""
    try:
        return get_instrument(inst_name)
    except UnknownInstrumentError:
        up = inst_name.upper()
        for inst in instruments().values():
            if any(alias in up for alias in (inst.name.upper(), *inst.aliases) if len(alias) > 3):
                return inst
    raise ProductError(f"{where}: instrument {inst_name!r} is not in ioscan's instrument registry")


def _bands_jiram(arr, filt, unit, where) -> dict[str, BandImage]:
    from ioscan.formats.jiram_pds3 import jiram_pixel_unit

    u = jiram_pixel_unit(unit, where=where)
    n = jiram.N_LINES_PER_BAND
    if arr.shape[1] != jiram.N_SAMPLES or arr.shape[0] not in (n, 2 * n):
        raise ProductError(f"{Path(where).name}: {arr.shape} is not a JIRAM imager frame")
    if arr.shape[0] == 2 * n:
        names, offsets = ("L", "M"), (0, n)
    else:
        f = (filt or "").strip().upper().replace("_BAND", "").replace("-BAND", "")
        if f not in jiram.BANDS:
            raise ProductError(
                f"{Path(where).name}: 128-line JIRAM image needs img:filter_name L or M, got {filt!r}"
            )
        names, offsets = (f,), (0,)
    out = {}
    for name, off in zip(names, offsets, strict=True):
        b = jiram.BANDS[name]
        out[name] = BandImage(
            band=name,
            data=arr[off : off + n],
            unit=u,
            wavelength_um=b.center_um,
            bandwidth_um=b.bandwidth_um,
            line_offset=off,
            spice_frame=b.spice_frame,
        )
    return out


def _identity_fields(root, label: Path, product_id: str) -> tuple[str, str | None, str | None]:
    """(base product ID, ``version_id``, latest ``modification_date`` as ISO UTC) of a label."""
    from ioscan.formats.versions import split_version

    base, version = split_version(product_id, _text(root, "Identification_Area", "version_id"))
    created = None
    for e in root.iter():
        if _local(e.tag) == "modification_date" and (e.text or "").strip():
            try:
                when = iso_utc(parse_utc(e.text.strip(), where=label, what="modification_date"))
            except ProductError:
                continue  # only a tie-breaker between two copies of one version: never fatal
            created = when if created is None else max(created, when)
    return base, version, created


def _product_id(root, label: Path, jiram: bool) -> str:
    lid = _text(root, "Identification_Area", "logical_identifier") or label.stem
    return lid.rsplit(":", 1)[-1].upper() if jiram else lid.rsplit(":", 1)[-1]


def read_pds4_identity(xml_label_path: Path):
    """The :class:`~ioscan.formats.versions.ProductIdentity` of a PDS4 product from its label (logical
    identifier, ``version_id``, modification history) and the checksum of its data file. Raises
    ProductError."""
    from ioscan.formats.versions import ProductIdentity

    label = Path(xml_label_path)
    if not label.is_file():
        raise ProductError(f"{label}: label file not found")
    root = _xml(label)
    file_name = _text(root, "File_Area_Observational", "File", "file_name")
    if file_name is None or not (label.parent / file_name).is_file():
        raise ProductError(f"{label.name}: data file {file_name} is missing")
    components = [
        _text(c, "name") or ""
        for c in root.iter()
        if _local(c.tag) == "Observing_System_Component" and (_text(c, "type") or "").lower() == "instrument"
    ]
    jiram_product = bool(components) and _registered_instrument(components[0], label.name).name == "JIRAM"
    product_id = _product_id(root, label, jiram_product)
    base, version, created = _identity_fields(root, label, product_id)
    checksum = file_checksum_sha256(label.parent / file_name)
    return ProductIdentity(label, product_id, base, version, created, checksum)


def read_pds4(xml_label_path: Path) -> Frame:
    """Read a PDS4 ``Array_2D_Image`` product (see module docstring) into a :class:`~ioscan.records.Frame`."""
    import pdr

    label = Path(xml_label_path)
    name = label.name
    if not label.is_file():
        raise ProductError(f"{label}: label file not found")
    root = _xml(label)
    if _local(root.tag) != "Product_Observational":
        raise ProductError(f"{name}: {_local(root.tag)} is not a Product_Observational label")
    array = _find(root, "File_Area_Observational", "Array_2D_Image")
    file_name = _text(root, "File_Area_Observational", "File", "file_name")
    if array is None or file_name is None:
        raise ProductError(f"{name}: no Array_2D_Image with a File in File_Area_Observational")
    data_type = _text(array, "Element_Array", "data_type")
    if data_type not in _DTYPES:
        raise ProductError(f"{name}: Array_2D_Image data_type {data_type!r} is not an IEEE754 float")
    unit = _text(array, "Element_Array", "unit")
    axes = [int(e.text) for e in array.iter() if _local(e.tag) == "elements"]
    offset = int(_text(array, "offset") or 0)
    data_path = label.parent / file_name
    if not data_path.is_file():
        raise ProductError(f"{name}: data file {file_name} is missing")
    itemsize = np.dtype(_DTYPES[data_type]).itemsize
    if len(axes) != 2:
        raise ProductError(f"{name}: Array_2D_Image has {len(axes)} axes")
    need = offset + axes[0] * axes[1] * itemsize
    if data_path.stat().st_size < need:
        raise ProductError(f"{file_name}: truncated: {data_path.stat().st_size} bytes, label needs {need}")

    instruments = [
        c
        for c in root.iter()
        if _local(c.tag) == "Observing_System_Component" and (_text(c, "type") or "").lower() == "instrument"
    ]
    inst_name = (_text(instruments[0], "name") or "") if instruments else ""
    instrument = _registered_instrument(inst_name, name)
    observer = instrument.observer

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = pdr.read(str(label))
            keys = [k for k in list(data.keys()) if k not in ("LABEL", "label")]
            key = "image" if "image" in keys else next(k for k in keys if data.metablock_(k) is not None)
            arr = np.asarray(data[key])
    except Exception as exc:
        raise ProductError(f"{name}: pdr could not read the image ({type(exc).__name__}: {exc})") from exc
    if arr.shape != tuple(axes):
        raise ProductError(f"{name}: image read as {arr.shape}, label says {tuple(axes)}")
    overridden = False
    jiram = instrument.name == "JIRAM"  # the JIRAM byte-order quirk and band layout (this module's own)
    if jiram and data_type.startswith("IEEE754MSB"):
        swapped = arr.view(arr.dtype.newbyteorder())
        if _plausible_fraction(swapped) > _plausible_fraction(arr) + 0.5:
            arr, overridden = swapped, True
    arr = arr.astype(np.float32)  # native order; copy

    filt = _text(root, "filter_name")
    if jiram:
        bands = _bands_jiram(arr, filt, unit, label)
    else:
        from ioscan.formats.fits_ground import filter_from_header

        f = filter_from_header(filt or "", where=label, instrument=instrument)
        u, scale = radiance_unit_and_scale(unit, where=label, keyword="Element_Array unit")
        if scale != 1.0:
            arr *= np.float32(scale)
        bands = {
            f.name: BandImage(
                band=f.name, data=arr, unit=u, wavelength_um=f.center_um, bandwidth_um=f.bandwidth_um
            )
        }

    start_txt = _text(root, "Time_Coordinates", "start_date_time")
    stop_txt = _text(root, "Time_Coordinates", "stop_date_time")
    if not start_txt:
        raise ProductError(f"{name}: no Time_Coordinates/start_date_time")
    start = parse_utc(start_txt, where=label, what="start_date_time")
    stop = parse_utc(stop_txt, where=label, what="stop_date_time") if stop_txt else start
    exp_txt = _text(root, "exposure_duration")
    exposure = float(exp_txt) if exp_txt else (stop - start).total_seconds()
    mid = mid_time(start, stop) if stop_txt else start + timedelta(seconds=exposure / 2)
    lid = _text(root, "Identification_Area", "logical_identifier") or label.stem
    product_id = _product_id(root, label, jiram)
    base_id, version, created = _identity_fields(root, label, product_id)
    return Frame(
        product_id=product_id,
        instrument=instrument.name,
        observer=observer,
        time_utc=iso_utc(mid),
        exposure_s=exposure,
        bands=bands,
        mode={2: "I1"}.get(len(bands), "I2" if "M" in bands else "I3") if jiram else None,
        path=label,
        checksum_sha256=file_checksum_sha256(data_path),
        metadata={
            "logical_identifier": lid,
            "instrument_name": inst_name,
            "data_type": data_type,
            "label_unit": unit,
            "byte_order_overridden": overridden,
            "data_file": file_name,
            "start_time_utc": iso_utc(start),
            "stop_time_utc": iso_utc(stop),
        },
        base_product_id=base_id,
        product_version=version,
        product_created_utc=created,
    )
