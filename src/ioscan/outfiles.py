"""Output files (exports, backplanes, figures): never a catalogue, never an existing file unless asked, never
half written.

:func:`check_output` refuses a path that is an SQLite database (a catalogue: not even with ``--force``) or
the journal of one, the catalogue in use, a folder, a file that exists (unless ``force``) or a path in a
missing folder. :func:`atomic_output` gives a temporary path beside the target and moves it into place only
when the writer finished, so a failed or interrupted write leaves the old file (or nothing).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ioscan.errors import OutputError

SQLITE_MAGIC = b"SQLite format 3\x00"
_JOURNALS = ("-wal", "-shm", "-journal")


def is_sqlite_database(path: Path) -> bool:
    """True when ``path`` starts with the SQLite file header."""
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _catalogue_journal(path: Path) -> bool:
    for suffix in _JOURNALS:
        if path.name.endswith(suffix):
            return is_sqlite_database(path.with_name(path.name[: -len(suffix)]))
    return False


def check_output(path: str | Path, *, force: bool = False, protected: Iterable[Path | None] = ()) -> Path:
    """``path`` as a Path when an output may be written there; OutputError naming it and the reason
    otherwise. ``protected``: files never to write (the catalogue in use; its journals are added)."""
    path = Path(path)
    target = path.resolve()
    for p in protected:
        if p is None:
            continue
        p = Path(p).resolve()
        if target == p or target in {p.with_name(p.name + s) for s in _JOURNALS}:
            raise OutputError(f"{path}: that is the catalogue in use; write the output somewhere else")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name")
    if path.exists() or path.is_symlink():
        if is_sqlite_database(path) or _catalogue_journal(path):
            raise OutputError(
                f"{path}: is an SQLite database (a catalogue?); ioscan never overwrites one, "
                "not even with --force"
            )
        if not force:
            raise OutputError(f"{path}: exists; give --force to replace it")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")
    return path


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same name ending, so writers that go by suffix behave); on
    success move it onto ``path`` in one step, on failure remove it."""
    path = Path(path)
    tmp = path.with_name(f".{os.getpid()}.tmp.{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
