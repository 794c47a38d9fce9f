"""``ioscan check-convention PRODUCTS... --kernels META.tm``: is the declared sample axis right?

Parses, calls :func:`ioscan.workflows.convention.check_convention` and prints the evidence per frame and the
verdict (or JSON). Registered in :mod:`ioscan.cli` as ``check-convention`` (wrapped in its ``user_errors``, so
an unusable input is one error line and exit status 2).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def check_convention(
    products: Annotated[
        list[Path], typer.Argument(help="JIRAM products (LBL) or folders, searched recursively.")
    ],
    kernels: Annotated[
        Path, typer.Option(help="SPICE metakernel (.tm) with NAIF's frames kernel and the reconstructed CK.")
    ],
    threshold: Annotated[
        float, typer.Option(help="Evidence (natural log) needed to call a sign confirmed; 9.2 ≈ 10,000:1.")
    ] = 9.2,
    cross_track_px: Annotated[
        float | None,
        typer.Option(
            help="Allow this cross-track pointing error (px) instead of the instrument's few pixels: "
            "a verdict that holds with hundreds does not rest on the cross-track prior."
        ),
    ] = None,
    anchors: Annotated[
        str | None,
        typer.Option(
            help='Known hot spots: "shipped", a CSV (lat_deg, lon_w_deg, lat_err_deg, lon_err_deg), '
            '"shipped+CSV" or "none" (default: the shipped tables\' 80 most powerful).'
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict and evidence as JSON.")] = False,
) -> None:
    """Decide which way the samples run (the sign NAIF's kernels leave open) from what a mirror changes:
    shading and terminator, known hot spots; report the choice, its margin, or "unconfirmed"."""
    import json

    from ioscan.cli.console import make_console
    from ioscan.workflows.convention import check_convention as run_check

    check = run_check(products, kernels, anchors=anchors, threshold=threshold, cross_track_px=cross_track_px)
    if as_json:
        typer.echo(json.dumps(check.to_dict(), indent=1))
        return
    print_convention(make_console(), check)


def print_convention(console, check) -> None:
    """The per-frame evidence table and the verdict."""
    from rich.table import Table

    res = check.result
    d, m = res.declared_label, res.mirror_label
    table = Table(
        "frame",
        f"ln L({d}) − ln L({m})",
        "counted",
        f"offset {d} (s, l) px",
        f"offset {m} (s, l) px",
        "image",
        "hot spots",
        "matches",
        title=f"sample axis of {', '.join(check.spice_frames)}: declared {d}",
    )
    for f in res.frames:
        table.add_row(
            f.name,
            f"{f.llr:+.1f}",
            f"{f.llr_counted:+.1f}",
            "({:.0f}, {:.0f})".format(*f.declared.offset_px),
            "({:.0f}, {:.0f})".format(*f.mirror.offset_px),
            f"{f.declared.image_term - f.mirror.image_term:+.1f}",
            f"{f.declared.hot_spot_term - f.mirror.hot_spot_term:+.1f}",
            f"{f.declared.n_matches} / {f.mirror.n_matches}",
        )
    console.print(table)
    for pid, angles in check.label_quaternions.items():
        best = min(angles, key=angles.get)
        others = ", ".join(f"{k} {v:.3f}°" for k, v in sorted(angles.items(), key=lambda kv: kv[1])[1:])
        console.print(
            f"{pid}: the label's quaternion is the kernels' {best} to {angles[best]:.4f}° (others: {others})"
        )
    for path, reason in check.skipped:
        console.print(f"[yellow]skipped[/yellow] {path}: {reason}")
    n = len(res.frames)
    if res.status == "confirmed":
        verdict = (
            f"[bold]{res.choice} confirmed[/bold]: margin {res.margin:.1f} "
            f"(natural log, ≥ {res.threshold:g}) over {m if res.choice == d else d}, "
            f"from {n} frame{'s' * (n != 1)}"
        )
        if res.choice != d:
            verdict += (
                f" — [red]the declared axis {d} is contradicted[/red]: geometry from these kernels would be "
                "mirrored across the samples"
            )
    else:
        verdict = (
            f"[bold]unconfirmed[/bold]: the frames lean to {res.favoured} by {res.margin:.1f} (natural log), "
            f"below the {res.threshold:g} needed; add day-side frames with the terminator in view or frames "
            "with known bright hot spots"
        )
    console.print(verdict)
