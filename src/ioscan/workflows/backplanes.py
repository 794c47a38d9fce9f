"""``ioscan backplanes``: per-pixel geometry of a product, of a SPICE frame at a time, or of label-style
arguments, written as multi-extension FITS (one named extension per backplane, units in ``BUNIT``)."""

from __future__ import annotations

from pathlib import Path

from ioscan.errors import GeometryError
from ioscan.geometry.backplanes import Backplanes
from ioscan.records import LabelGeometry


def label_geometry_from_args(args: dict) -> LabelGeometry | None:
    """LabelGeometry from CLI-style keyword values, or None when none were given; error if incomplete."""
    required = (
        "sub_observer_lat_deg",
        "sub_observer_lon_w_deg",
        "range_km",
        "pixel_scale_km",
        "disk_center_sample",
        "disk_center_line",
    )
    given = [k for k in required if args.get(k) is not None]
    if not given:
        return None
    missing = [k for k in required if args.get(k) is None]
    if missing:
        raise GeometryError(f"label geometry incomplete: missing {', '.join(missing)}")
    return LabelGeometry(**{k: float(v) for k, v in args.items() if v is not None})


def write_backplanes(
    *,
    out: Path,
    product: Path | None,
    kernels: Path | None,
    frame_name: str,
    time_utc: str | None,
    band: str | None,
    label_args: dict,
    shape: tuple[int, int],
    force: bool = False,
    settings=None,
) -> list[Path]:
    """Compute backplanes and write them as FITS files; returns the paths written.

    With a multi-band product, one file per band is written (``OUT`` with ``_<band>`` before the suffix);
    its primary header says how the frame was navigated (:meth:`ioscan.geometry.navigate.Navigation.
    header_cards`: NAVMETH, PNTOFFS/PNTOFFL, PNTERRS/PNTERRL, PNTCORR, PFALSE, NANCHOR).
    A product without geometry (no kernels, none in its label) is a GeometryError, never an empty success.
    Existing files are replaced only with ``force`` (a catalogue never: :mod:`ioscan.outfiles`); each file
    is written whole or not at all.
    """
    from ioscan.geometry.backplanes import to_fits_hdulist
    from ioscan.outfiles import atomic_output, check_output

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    check_output(out, force=force)
    results: dict[str, Backplanes] = {}
    if product is not None:
        from ioscan.workflows.process import analyse_product

        # navigated as a scan does (limb, then known hot spots); the registration goes into the headers
        _, nav, _ = analyse_product(product, kernels, settings)
        if not nav.backplanes:
            how = "with the kernels given" if kernels else "its label has none and no --kernels given"
            notes = "; ".join(nav.messages)
            raise GeometryError(f"{product.name}: no geometry ({how}){': ' + notes if notes else ''}")
        if band is not None and band not in nav.backplanes:
            raise GeometryError(
                f"{product.name}: no band {band!r} with geometry (bands: {', '.join(nav.backplanes)})"
            )
        results = nav.backplanes if band is None else {band: nav.backplanes[band]}
        for bp in results.values():
            bp.meta.update(nav.header_cards())
    elif kernels is not None:
        if time_utc is None:
            raise GeometryError("--time is required with --kernels and no product")
        from ioscan.geometry.spice_provider import SpiceGeometry

        results = {frame_name: SpiceGeometry(kernels).backplanes(time_utc, frame_name)}
    else:
        geom = label_geometry_from_args(label_args)
        if geom is None:
            raise GeometryError("give a product, --kernels with --time, or the label geometry options")
        from ioscan.geometry.label_provider import backplanes_from_label

        results = {"image": backplanes_from_label(geom, shape[1], shape[0], time_utc or "")}
    paths = {n: out if len(results) == 1 else out.with_name(f"{out.stem}_{n}{out.suffix}") for n in results}
    for path in paths.values():
        check_output(path, force=force)
    written = []
    for name, bp in results.items():
        with atomic_output(paths[name]) as tmp:
            to_fits_hdulist(bp).writeto(tmp)
        written.append(paths[name])
    return written
