"""A restricted unpickler for dataset ground-truth files (`gnd_*.pkl`): plain data and numpy arrays only.

Plain `pickle.load` runs whatever a file names; a file a user was handed must never get that. Containers,
strings and numbers are built by pickle opcodes without `find_class`; everything `find_class` may
resolve is listed below, and anything else raises before it is called.
"""

from __future__ import annotations

import builtins
import codecs
import io
import pickle
from pathlib import Path
from typing import IO, Any

import numpy as np

try:  # numpy >= 2 moved the modules; pickles written by numpy 1 still name the old paths.
    from numpy._core import multiarray as _multiarray
    from numpy._core import numeric as _numeric
except ImportError:  # pragma: no cover - numpy 1
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]
    from numpy.core import numeric as _numeric  # type: ignore[no-redef]


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names something outside the allowed plain-data set."""


_BUILTINS = ("dict", "list", "tuple", "set", "frozenset", "str", "int", "float", "bool", "bytes")
_ALLOWED: dict[tuple[str, str], Any] = {("builtins", n): getattr(builtins, n) for n in _BUILTINS}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _multiarray._reconstruct
    _ALLOWED[(_mod, "scalar")] = _multiarray.scalar
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    # Protocol 5 rebuilds arrays with `_frombuffer(buffer, dtype, shape, order)`: frombuffer + reshape.
    _ALLOWED[(_mod, "_frombuffer")] = _numeric._frombuffer
_ALLOWED[("numpy", "ndarray")] = np.ndarray
_ALLOWED[("numpy", "dtype")] = np.dtype
# Protocol-2 pickles (Python 2 era) store bytes, including numpy array buffers, as
# `_codecs.encode(text, "latin1")`; a pure function, also allowed by torch's weights_only loader.
_ALLOWED[("_codecs", "encode")] = codecs.encode


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Protocol 0-2 pickles name Python 2's module; plain Unpickler maps it in its own find_class.
        module = "builtins" if module == "__builtin__" else module
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load {module}.{name}: only plain data and numpy arrays"
            ) from None


def safe_load(source: str | Path | bytes | IO[bytes]) -> Any:
    """Unpickle a path, bytes or binary file with the restricted unpickler.

    `encoding="latin1"` reads numpy arrays from Python 2 pickles; Python 3 pickles are unaffected.
    """
    if isinstance(source, bytes):
        return RestrictedUnpickler(io.BytesIO(source), encoding="latin1").load()
    if isinstance(source, (str, Path)):
        with open(source, "rb") as f:
            return RestrictedUnpickler(f, encoding="latin1").load()
    return RestrictedUnpickler(source, encoding="latin1").load()
