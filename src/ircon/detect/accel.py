"""The optional C accelerator of the detectors, ``ircon.detect._fast``.

``fast`` is the compiled module, or None when it was not built (no C compiler
at install time) or when ``IRCON_PURE_PYTHON`` is set in the environment. Every
caller keeps a pure-Python path that gives the same answers; the tests compare
the two. Callers read ``accel.fast`` when they run, so setting it to None turns
the accelerator off for detector sets built afterwards (the bench does, to time
both paths in one run).
"""

from __future__ import annotations

import os
from types import ModuleType

fast: ModuleType | None
try:
    from ircon.detect import _fast as fast
except ImportError:  # not built: the pure-Python paths serve
    fast = None
if os.environ.get("IRCON_PURE_PYTHON"):
    fast = None
