"""The package's layers: the benchmarks sit on top of the chapters' modules, never under them.

A fresh interpreter imports the modules one after another and reports, for each, what its import loaded that
was not loaded before. Nothing imported by an earlier test can hide an import, and one interpreter for all the
modules costs seconds where one per module would cost minutes: while `helpers.bench` has not been loaded, the
first module that imports it, directly or through another module, is the one it appears after.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import helpers

PACKAGE = Path(helpers.__file__).resolve().parent  # the copy under test: the child imports this same copy
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "bench"))
# Chapter modules that never call scipy: importing them must not cost its import (seconds for scipy.stats).
WITHOUT_SCIPY = ("tokenization", "rnn", "attention", "classifiers", "transformer")

WATCH = """
import importlib, json, sys
modules, watched = sys.argv[1].split(","), sys.argv[2].split(",")
seen = {}
for module in modules:
    importlib.import_module(f"helpers.{module}")
    seen[module] = [n for n in watched if n in sys.modules and n not in sum(seen.values(), [])]
print(json.dumps(seen))
"""


def first_loaded_by(modules: list[str] | tuple[str, ...], watched: tuple[str, ...]) -> dict[str, list[str]]:
    """{module: the watched modules that first appeared when it was imported}, in the given order."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE.parent),
                                                                     os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", WATCH, ",".join(modules), ",".join(watched)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_no_module_imports_the_benchmarks():
    loaded = first_loaded_by(MODULES, ("helpers.bench",))
    assert {m: names for m, names in loaded.items() if names} == {}


def test_chapters_without_scipy_do_not_import_it():
    loaded = first_loaded_by(WITHOUT_SCIPY, ("scipy",))
    assert {m: names for m, names in loaded.items() if names} == {}


def test_the_results_file_needs_no_chapter():
    others = tuple(f"helpers.{m}" for m in MODULES if m not in ("results", "storage"))
    [loaded] = first_loaded_by(["results"], others).values()
    assert loaded == []
