"""``import xlwings`` without pandas, matplotlib and Pillow on the button's path.

A click on 计算评分 starts a fresh Python (``python -c "import dtg; dtg.main()"``).  ``import
xlwings`` imports pandas, matplotlib and Pillow when they are installed (``try: import pandas as
pd / except ImportError: pd = None`` in ``xlwings.main``, ``utils``, ``conversion``,
``_xlwindows``); dtg_xl installs them (charts, export), so every click paid for them although the
button reads and writes plain values.  ``import_xlwings()`` imports xlwings with those three
blocked (``sys.modules[name] = None`` makes their import raise ImportError, the documented way),
unblocks them at once, and then puts back, in the xlwings modules that had bound ``None``, a
stand-in that imports the real module on first use:

* ``pd``, ``mpl``, ``plt`` (type checks such as ``if pd and isinstance(x, pd.Timestamp)``): the
  stand-in is true only once the real module is imported.  A value can only be a pandas object
  (or a matplotlib figure) if pandas (matplotlib) has been imported, so each check gives the
  answer the unblocked import would give, without importing anything for plain values.
* ``PIL`` (``if not PIL: raise "requires Pillow"``) and ``ImageGrab``: true when installed; the
  real module is imported when an attribute is first used (``Range.to_png``).
* pandas' converters (``.options(pd.DataFrame)``) are registered by ``xlwings.conversion`` only
  when pandas imported with it; a one-shot import hook registers them (imports
  ``xlwings.conversion.pandas_conv``) right after pandas is first imported.

Written by hand (about 60 lines) because no library does "import optional module later with
this truthiness"; ``importlib.util.LazyLoader`` modules are always true and load on
``isinstance`` checks, which would import pandas on the first written cell.  Measured in
``bench/click_bench.py``; tests/test_lean_xlwings.py checks the stand-ins against xlwings' own
code paths.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types

OPTIONAL = ("pandas", "matplotlib", "PIL")

# (xlwings module, global name) -> (real module, attribute or None, truthiness rule)
LOADED, INSTALLED = "loaded", "installed"
# submodules the skipped import statements also imported (xlwings reaches them as attributes,
# e.g. utils: mpl.backends.backend_agg.FigureCanvas after "import matplotlib.pyplot")
ALSO = {"matplotlib": ("matplotlib.figure", "matplotlib.pyplot", "matplotlib.backends.backend_agg")}
STAND_INS = {
    ("xlwings.main", "pd"): ("pandas", None, LOADED),
    ("xlwings.main", "mpl"): ("matplotlib", None, LOADED),
    ("xlwings.main", "FigureCanvas"): ("matplotlib.backends.backend_agg", "FigureCanvas", LOADED),
    ("xlwings.main", "PIL"): ("PIL", None, INSTALLED),
    ("xlwings.utils", "mpl"): ("matplotlib", None, LOADED),
    ("xlwings.utils", "plt"): ("matplotlib.pyplot", None, LOADED),
    ("xlwings.conversion", "pd"): ("pandas", None, LOADED),
    ("xlwings._xlwindows", "pd"): ("pandas", None, LOADED),
    ("xlwings._xlwindows", "PIL"): ("PIL", None, INSTALLED),
    ("xlwings._xlwindows", "ImageGrab"): ("PIL.ImageGrab", None, INSTALLED),
    ("xlwings._xlmac", "pd"): ("pandas", None, LOADED),
    ("xlwings._xlmac", "PIL"): ("PIL", None, INSTALLED),
    ("xlwings._xlmac", "ImageGrab"): ("PIL.ImageGrab", None, INSTALLED),
}


class Later(types.ModuleType):
    """Stands in for an optional module that ``import xlwings`` skipped (see the module doc)."""

    def __init__(self, module: str, attribute: str | None, rule: str):
        super().__init__(module)
        self.__dict__.update(_module=module, _attribute=attribute, _rule=rule)

    def _real(self):
        obj = importlib.import_module(self._module)
        for extra in ALSO.get(self._module, ()):
            importlib.import_module(extra)
        return getattr(obj, self._attribute) if self._attribute else obj

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(self._real(), name)

    def __call__(self, *args, **kwargs):  # FigureCanvas(figure)
        return self._real()(*args, **kwargs)

    def __bool__(self) -> bool:
        top = self._module.split(".")[0]
        if self._rule == LOADED:
            return self._module in sys.modules
        return top in sys.modules or importlib.util.find_spec(top) is not None

    def __repr__(self) -> str:
        return f"<imported on first use: {self._module}{'.' + self._attribute if self._attribute else ''}>"


class _AfterPandas(importlib.abc.MetaPathFinder):
    """Registers xlwings' pandas converters once pandas has been imported (then removes itself)."""

    def find_spec(self, name, path=None, target=None):
        if name != "pandas":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("pandas")
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module):
            original(module)
            importlib.import_module("xlwings.conversion.pandas_conv")  # registers DataFrame/Series

        loader.exec_module = exec_module
        return spec


def import_xlwings():
    """xlwings, imported without pandas/matplotlib/Pillow (the same module object afterwards)."""
    if "xlwings" in sys.modules:
        return sys.modules["xlwings"]
    blocked = [name for name in OPTIONAL if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None
    try:
        import xlwings
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    for (owner, name), (module, attribute, rule) in STAND_INS.items():
        mod = sys.modules.get(owner)
        if mod is not None and module.split(".")[0] in blocked and getattr(mod, name, None) is None:
            setattr(mod, name, Later(module, attribute, rule))
    if "pandas" in blocked and importlib.util.find_spec("pandas") is not None:
        sys.meta_path.insert(0, _AfterPandas())
    return xlwings
