"""Loads `module.function` handlers from the code directory with importlib, never exec."""

import importlib
import re
import sys
import threading

from .errors import HANDLER_NOT_FOUND, IMPORT_MODULE_ERROR, INVALID_HANDLER, SYNTAX_ERROR, RuntimeFault

_HANDLER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class Loader:
    """Resolves handler strings to callables, once each; thread-safe."""

    def __init__(self, code_dir):
        self.code_dir = code_dir
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
        self._cache = {}
        self._lock = threading.Lock()

    def load(self, handler):
        func = self._cache.get(handler)
        if func is None:
            with self._lock:
                func = self._cache.get(handler)
                if func is None:
                    func = self._resolve(handler)
                    self._cache[handler] = func
        return func

    def _resolve(self, handler):
        if not handler or not _HANDLER_RE.fullmatch(handler):
            raise RuntimeFault(
                INVALID_HANDLER,
                f"Bad handler {handler!r}: expected 'module.function', for example 'index.handler'",
            )
        module_name, _, func_name = handler.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except SyntaxError as exc:
            where = f"{exc.filename}, line {exc.lineno}" if exc.filename else "user code"
            raise RuntimeFault(SYNTAX_ERROR, f"Syntax error in {where}: {exc.msg}", exc) from exc
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                path = module_name.replace(".", "/")
                message = f"Unable to import module '{module_name}': no file {path}.py in the code"
            else:
                message = f"Unable to import module '{module_name}': {exc}"
            raise RuntimeFault(IMPORT_MODULE_ERROR, message, exc) from exc
        except Exception as exc:  # the module's own top-level code raised
            raise RuntimeFault(
                IMPORT_MODULE_ERROR, f"Unable to import module '{module_name}': {type(exc).__name__}: {exc}", exc
            ) from exc
        func = getattr(module, func_name, None)
        if func is None:
            raise RuntimeFault(HANDLER_NOT_FOUND, f"Handler '{func_name}' missing in module '{module_name}'")
        if not callable(func):
            raise RuntimeFault(HANDLER_NOT_FOUND, f"Handler '{func_name}' in module '{module_name}' is not callable")
        return func
