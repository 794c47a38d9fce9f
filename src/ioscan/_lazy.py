"""Lazy package exports (PEP 562): a package names its public objects and the modules that define them, and
each module is imported on first use — so importing a package's settings (``ioscan.detect.config``) does not
import the package's whole pipeline (scipy.ndimage, compiled kernels)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, public: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``public`` maps a name to the module defining it;
    a name, once imported, is kept in the package's ``namespace`` (its ``globals()``)."""

    def module_getattr(name: str) -> Any:
        module = public.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def module_dir() -> list[str]:
        return sorted(public)

    return module_getattr, module_dir
