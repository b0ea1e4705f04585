"""Build hook: compile the detectors' C accelerator (``ircon.detect._fast``).

The extension is optional. When no C compiler is at hand the build goes on
without it and ircon runs its pure-Python paths, which give the same answers
(tests compare the two), only slower.

An editable install compiles the module in place, next to its source under
``src/``; a wheel carries it as a platform-specific file.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = "src/ircon/detect/_fast.c"
MODULE = "ircon.detect._fast"


def compile_extension(root: Path, build_dir: Path | None) -> Path:
    """Compile the extension; in place under ``src/`` when ``build_dir`` is None.
    Returns the path of the built module."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    ext = Extension(MODULE, [SOURCE], extra_compile_args=["-O2", "-Wall"])
    dist = Distribution({"name": "ircon", "ext_modules": [ext], "package_dir": {"": "src"},
                         "script_name": "hatch_build.py"})
    dist.src_root = str(root)
    cmd = build_ext(dist)
    cmd.inplace = build_dir is None
    if build_dir is not None:
        cmd.build_lib = str(build_dir)
        cmd.build_temp = str(build_dir / "tmp")
    cmd.ensure_finalized()
    cmd.run()
    return Path(cmd.get_ext_fullpath(MODULE))


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        import os

        root = Path(self.root)
        here = os.getcwd()
        os.chdir(root)  # setuptools resolves the source and package_dir from here
        try:
            if version == "editable":
                compile_extension(root, None)
                return
            out = compile_extension(root, Path(tempfile.mkdtemp(prefix="ircon-build-")))
        except Exception as exc:  # no compiler, no headers: the pure-Python paths serve
            print(f"ircon: C accelerator not built ({type(exc).__name__}: {exc}); "
                  "the pure-Python detectors are used", file=sys.stderr)
            return
        finally:
            os.chdir(here)
        build_data["force_include"][str(out)] = "ircon/detect/" + out.name
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
