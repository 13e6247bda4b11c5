"""The package's layers: the benchmarks sit on top of the chapters' modules, never under them.

A fresh interpreter imports the modules one after another and reports, for each, what its import loaded that
was not loaded before. Nothing imported by an earlier test can hide an import, and one interpreter for all the
modules costs seconds where one per module would cost minutes: while `helpers.bench` has not been loaded, the
first module that imports it, directly or through another module, is the one it appears after.
"""

import ast
import json
import os
import re
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


# The four kinds of module, lowest first, as README.md's "How `helpers` is laid out" lists them.
KINDS = {
    "course infrastructure": ("config", "environment", "hub", "data", "models", "checks", "batching",
                              "training", "storage", "intervals", "results", "course", "quiz",
                              "viz"),
    "from-scratch pieces, by chapter": ("tokenization", "bpe", "wordpiece", "unigram", "embeddings", "rnn",
                                        "language_model", "attention", "decoding", "transformer",
                                        "pretraining", "generation", "transformer_xl", "longformer",
                                        "reformer", "bigbird"),
    "chapter experiments": ("baselines", "classifiers", "seq2seq", "finetune", "long_attention",
                            "long_documents", "analysis", "ensemble", "deploy"),
    "applications": ("sentiment", "train_sentiment", "serve", "bench"),
}
RANK = {module: rank for rank, modules in enumerate(KINDS.values()) for module in modules}


def helpers_imported_by(module: str) -> set[str]:
    """The helpers modules `module` imports anywhere in its code (at the top or inside a function), leaving
    out imports for type hints only (under `if TYPE_CHECKING:`), which never run."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    type_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                 and getattr(block.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(block)}
    found = set()
    for node in (n for n in ast.walk(tree) if id(n) not in type_only):
        if isinstance(node, ast.ImportFrom) and node.module == "helpers":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("helpers."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("helpers.")}
    return found


def test_every_module_has_one_kind():
    assert sorted(RANK) == sorted([*MODULES, "bench"])


def test_a_module_imports_only_its_own_kind_or_lower():
    upward = {module: sorted(d for d in helpers_imported_by(module) if RANK[d] > RANK[module])
              for module in RANK}
    assert {module: deps for module, deps in upward.items() if deps} == {}


def test_the_readme_lists_each_module_under_its_kind():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    for kind, modules in KINDS.items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| {kind} |"))
        assert sorted(re.findall(r"`(\w+)`", row.split("|")[2])) == sorted(modules), kind
