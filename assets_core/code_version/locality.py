"""Which code is the project's, and so followed into a code version: a real source file outside
site-packages, dist-packages and the standard library, in a module that is not Lumbung's own
(``assets_core``, ``io_managers``) nor built in. Code with no source file (``exec``, a REPL)
counts as the project's unless its module is known not to be.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
from pathlib import Path
from types import FunctionType, ModuleType

__all__ = ["ModuleMemo", "fn_is_local", "is_local_file", "module_is_local"]

_FRAMEWORK = frozenset({"assets_core", "io_managers"})

#: module name -> (the module, whether it is local), kept by a versioner for its lifetime
ModuleMemo = dict[str, tuple[ModuleType, bool]]


@functools.lru_cache(maxsize=1)
def _outside_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib") if k in paths}
    return tuple(d.rstrip(os.sep) + os.sep for d in dirs)


@functools.lru_cache(maxsize=4096)
def is_local_file(path: str) -> bool:
    """True for a real source file of the project: not in site-packages/dist-packages and
    not in the standard library."""
    if not path or path.startswith("<"):
        return False
    real = os.path.realpath(path)
    parts = Path(real).parts
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    return not real.startswith(_outside_dirs())


def _is_framework(module: str | None) -> bool:
    return bool(module) and str(module).partition(".")[0] in _FRAMEWORK


def fn_is_local(fn: FunctionType, memo: ModuleMemo) -> bool:
    """Whether ``fn`` is the project's code (``memo`` remembers the modules asked about)."""
    module = fn.__module__
    if _is_framework(module):
        return False
    file = fn.__code__.co_filename
    if file and not file.startswith("<"):
        return is_local_file(file)
    # No source file (exec, a REPL): project code unless its module is not.
    mod = sys.modules.get(module) if module else None
    return mod is None or mod.__name__ == "__main__" or module_is_local(mod, memo)


def module_is_local(module: ModuleType, memo: ModuleMemo) -> bool:
    """Whether ``module`` is the project's, remembered in ``memo`` for that module object."""
    name = module.__name__
    hit = memo.get(name)
    if hit is not None and hit[0] is module:
        return hit[1]
    local = False
    if name not in sys.builtin_module_names and not _is_framework(name):
        file = getattr(module, "__file__", None)
        if isinstance(file, str):
            local = is_local_file(file)
        else:  # a namespace package
            paths = getattr(module, "__path__", None) or ()
            local = any(is_local_file(str(Path(p, "__init__.py"))) for p in paths)
    memo[name] = (module, local)
    return local
