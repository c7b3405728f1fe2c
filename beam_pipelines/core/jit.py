"""One switch for numba: the realigner's kernels are plain loops compiled when numba is present.

Why a module of its own: several core modules (Smith-Waterman, the fast k-mer pass, the de
Bruijn assembler, the window selector) compile their inner loops the same way; one decorator
keeps the compile options (on-disk cache, GIL released) identical and the fallback in one place.
Without numba (it is a declared dependency of the ``pipelines`` extra, so only a broken install
lacks it) the same functions run as ordinary Python: correct, but only fit for tests.
"""
from __future__ import annotations

try:  # numba is an accelerator: same code, compiled.
  import numba as _numba

  def njit(fn):
    """Compiles ``fn`` in nopython mode, cached on disk, releasing the GIL."""
    return _numba.njit(cache=True, nogil=True)(fn)

  HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is absent
  def njit(fn):
    return fn

  HAVE_NUMBA = False
