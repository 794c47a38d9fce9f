"""All settings of a run in one place: detection, measurement, navigation, tracking and the report.

A :class:`Settings` is built from defaults, a TOML file (``--config FILE``) and ``--set section.key=value``
overrides, in that order, and is stored with every run in the catalogue (``runs.settings``), so a catalogue
says how it was made. Example file::

    [detect]
    threshold_snr = 5.0
    psf = 0.8                 # a Gaussian σ in px, or {weights = [...], sigmas_px = [...]}

    [measure]
    saturated_centroid_sys_px = 1.5

    [navigate]
    register = true

    [track]
    n_sigma = 3.0
    excluded_flags = ["COSMIC_RAY", "OFF_DISK", "ARTEFACT"]

    [analysis]
    n_calibration = 500        # simulated populations per false-positive rate / power

A setting whose default may be None (off, or "decided from the data") is set back to None with the word
``none`` (``--set detect.limb_ridge_chi2=none``, or ``limb_ridge_chi2 = "none"`` in a file): TOML has no null.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ioscan.analysis.config import AnalysisConfig
from ioscan.detect.config import DetectConfig
from ioscan.detect.psf import PsfModel
from ioscan.errors import IoscanError
from ioscan.geometry.config import NavigateConfig
from ioscan.measure.config import MeasureConfig
from ioscan.track.config import TrackConfig


class SettingsError(IoscanError):
    """A settings file or override that cannot be used (names the file or the key)."""


@dataclass
class Settings:
    """The settings of every stage (each section is the stage's own config dataclass; ``analysis`` is the
    report's)."""

    detect: DetectConfig = field(default_factory=DetectConfig)
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    navigate: NavigateConfig = field(default_factory=NavigateConfig)
    track: TrackConfig = field(default_factory=TrackConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """JSON-ready dict, one entry per section (PSF models as weights and σ lists)."""
        return {f.name: _section_dict(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def load(cls, path: Path | None = None, overrides: typing.Sequence[str] = ()) -> Settings:
        """Defaults, then the TOML file ``path`` (if any), then ``section.key=value`` overrides."""
        data: dict[str, dict[str, Any]] = {}
        where = "settings"
        if path is not None:
            where = str(path)
            try:
                data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except OSError as exc:
                raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise SettingsError(f"settings file {path}: not valid TOML: {exc}") from None
        for item in overrides:
            section, key, value = _parse_override(item)
            table = data.setdefault(section, {})
            *parents, leaf = key.split(".")
            for name in parents:  # section.step.key=value sets a nested setting
                table = table.setdefault(name, {}) if isinstance(table.get(name, {}), dict) else {}
            table[leaf] = value
            where = f"{where} / --set {item}" if path is not None else f"--set {item}"
        return cls.from_dict(data, where=where)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "settings") -> Settings:
        """Settings from a dict of sections (unknown sections or keys are errors)."""
        sections = {f.name: f for f in dataclasses.fields(cls)}
        out = cls()
        for name, values in data.items():
            if name not in sections:
                raise SettingsError(f"{where}: unknown section [{name}] (known: {', '.join(sections)})")
            if not isinstance(values, dict):
                raise SettingsError(f"{where}: [{name}] must be a table of key = value")
            setattr(out, name, _section(type(getattr(out, name)), values, f"{where}: [{name}]"))
        return out


def _parse_override(item: str) -> tuple[str, str, Any]:
    key, sep, text = item.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot or not section or not name:
        raise SettingsError(f"--set {item!r}: expected section.key=value (e.g. detect.threshold_snr=5)")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word: a string
    return section, name, value


def _section(kind: type, values: dict[str, Any], where: str):
    hints = typing.get_type_hints(kind)
    names = {f.name for f in dataclasses.fields(kind)}
    kwargs = {}
    for key, value in values.items():
        if key not in names:
            raise SettingsError(f"{where}: unknown setting {key!r} (known: {', '.join(sorted(names))})")
        kwargs[key] = _coerce(value, hints[key], f"{where} {key}")
    try:
        section = kind(**kwargs)
        if isinstance(section, TrackConfig):
            _ = section.excluded_mask
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where}: {exc}") from None
    return section


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` as the field's type: int → float where a float is wanted, lists → tuples, PSF tables."""
    union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
    args = typing.get_args(hint) if union else ()
    allowed = [a for a in args if a is not type(None)] if union else [hint]
    if value is None and type(None) in args:
        return None
    if isinstance(value, str) and value.lower() == "none" and type(None) in args and str not in allowed:
        return None  # TOML has no null: `--set detect.limb_ridge_chi2=none` (or "none" in a file) unsets
    if PsfModel in allowed:
        return _psf(value, where)
    nested = [k for k in allowed if dataclasses.is_dataclass(k)]
    if nested and isinstance(value, dict):
        return _section(nested[0], value, where)
    if nested and value is False and type(None) in args:  # `--set track.mixture=false` turns a step off
        return None
    for kind in allowed:
        origin = typing.get_origin(kind) or kind
        if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if origin is bool and isinstance(value, bool):
            return value
        if origin is str and isinstance(value, str):
            return value
        if origin is tuple and isinstance(value, list):
            return tuple(value)
        if origin is dict and isinstance(value, dict):
            return dict(value)
    raise SettingsError(f"{where}: {value!r} is not a {hint}")


def _psf(value: Any, where: str):
    """A PSF setting: σ in px, {weights, sigmas_px}, or a table band → one of those."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, dict) and set(value) == {"weights", "sigmas_px"}:
        try:
            return PsfModel(tuple(value["weights"]), tuple(value["sigmas_px"]))
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{where}: {exc}") from None
    if isinstance(value, dict):
        return {str(band): _psf(v, f"{where}.{band}") for band, v in value.items()}
    raise SettingsError(f"{where}: {value!r} is not a PSF (σ in px, or weights and sigmas_px)")


def _section_dict(section: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(section):
        out[f.name] = _plain(getattr(section, f.name))
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and not isinstance(value, PsfModel):
        return _section_dict(value)
    if isinstance(value, PsfModel):
        return {"weights": list(value.weights), "sigmas_px": list(value.sigmas_px)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value
