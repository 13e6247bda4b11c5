"""Benchmarks: train and evaluate one course model on IMDB, print one JSON line, keep a results table.

    python -m helpers.bench tfidf_logreg --imdb ../shared/data/imdb --profile cpu
    python -m helpers.bench --all --record benchmarks/results.json --readme README.md
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from datasets import Dataset

from helpers import config, data

BenchFn = Callable[[Dataset, Dataset, Dataset, config.Profile], dict]
REGISTRY: dict[str, tuple[str, BenchFn]] = {}
TABLE_START, TABLE_END = "<!-- bench:start -->", "<!-- bench:end -->"


def register(name: str, description: str) -> Callable[[BenchFn], BenchFn]:
    """Add a benchmark: fn(train, val, test, profile) -> {"test_accuracy", "val_accuracy", ...}."""

    def add(fn: BenchFn) -> BenchFn:
        REGISTRY[name] = (description, fn)
        return fn

    return add


@register("tfidf_logreg", "TF-IDF uni+bigrams, logistic regression (C chosen on validation)")
def _tfidf_logreg(train: Dataset, val: Dataset, test: Dataset, profile: config.Profile) -> dict:
    from helpers.baselines import select_and_fit

    start = time.perf_counter()
    # Selection sees train and validation only; test is scored once, below.
    model, best_C, scores = select_and_fit(list(train["text"]), list(train["label"]), list(val["text"]),
                                           list(val["label"]))
    seconds = time.perf_counter() - start
    return {"test_accuracy": model.score(list(test["text"]), list(test["label"])), "val_accuracy": scores[best_C],
            "train_seconds": seconds, "params": {"C": best_C}}


def _neural(train_fn_name: str) -> BenchFn:
    """A benchmark from a `helpers.classifiers` trainer: train with validation-based epoch selection, score test."""

    def bench(train: Dataset, val: Dataset, test: Dataset, profile: config.Profile) -> dict:
        from helpers import classifiers

        trained = getattr(classifiers, train_fn_name)(train, val, profile)
        best = max(trained.history, key=lambda row: row["val_accuracy"])
        return {"test_accuracy": trained.accuracy(test), "val_accuracy": best["val_accuracy"],
                "train_seconds": trained.train_seconds,
                "params": {"epochs_run": len(trained.history), "best_epoch": best["epoch"],
                           "vocab": trained.vocab_size, "parameters": sum(p.numel() for p in trained.model.parameters())}}

    return bench


register("nbow_bigram", "neural bag of uni+bigrams (fastText-style), mean-pooled embeddings, linear")(
    _neural("train_nbow_bigram"))
register("bilstm", "1-layer BiLSTM, max+mean pooling, first+last words of each review")(_neural("train_bilstm"))


def run(name: str, imdb: str | None = None, profile_name: str | None = None, seed: int = 0) -> dict:
    """Run one registered benchmark and return its result row."""
    if name not in REGISTRY:
        raise SystemExit(f"Unknown benchmark {name!r}. Registered: {', '.join(sorted(REGISTRY))}.")
    profile = config.get_profile(profile_name)
    config.seed_everything(seed)
    dsd = data.load_imdb(imdb, n_train=profile.n_train, n_test=profile.n_test, seed=seed)
    train, val = data.train_val_split(dsd["train"], 0.1, seed=seed)
    result = REGISTRY[name][1](train, val, dsd["test"], profile)
    return {"model": name, "profile": profile.name, "data": data.describe_source().split(":")[0],
            "n_train": len(train), "n_val": len(val), "n_test": len(dsd["test"]),
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()},
            "machine": config.machine_description(), "date": time.strftime("%Y-%m-%d")}


def _load_results(path: Path) -> dict[str, dict]:
    return json.loads(path.read_text()) if path.exists() else {}


def _write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file, then rename, so an interrupted run never leaves half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def record(row: dict, path: Path) -> dict[str, dict]:
    """Store `row` in the results file, replacing an earlier run of the same model, profile and data."""
    results = _load_results(path)
    results[f"{row['model']}|{row['profile']}|{row['data']}|{row['n_train']}"] = row
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, json.dumps(results, indent=1, sort_keys=True) + "\n")
    return results


def markdown_table(results: dict[str, dict]) -> str:
    """The README's benchmark table, best test accuracy first."""
    lines = ["| model | what it is | test accuracy | validation accuracy | train / val / test reviews | data | "
             "profile | train time | machine |", "|---|---|---|---|---|---|---|---|---|"]
    for row in sorted(results.values(), key=lambda r: (r["data"], -r["test_accuracy"])):
        description = REGISTRY[row["model"]][0] if row["model"] in REGISTRY else ""
        lines.append(f"| `{row['model']}` | {description} | **{row['test_accuracy']:.1%}** | {row['val_accuracy']:.1%} | "
                     f"{row['n_train']:,} / {row['n_val']:,} / {row['n_test']:,} | {row['data']} | {row['profile']} | "
                     f"{row['train_seconds']:.0f} s | {row['machine']}, {row['date']} |")
    return "\n".join(lines)


def update_readme(readme: Path, results: dict[str, dict]) -> None:
    """Replace the table between the bench markers in the README."""
    text = readme.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        raise SystemExit(f"{readme} has no {TABLE_START} ... {TABLE_END} markers to put the table between.")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    _write_atomically(readme, f"{head}{TABLE_START}\n{markdown_table(results)}\n{TABLE_END}{tail}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(REGISTRY)}")
    parser.add_argument("--all", action="store_true", help="run every registered benchmark")
    parser.add_argument("--imdb", help="IMDB folder (parquet or aclImdb); default $IMDB_DIR, the Hub, or the sample")
    parser.add_argument("--profile", choices=list(config.PROFILES), help="course profile (default $COURSE_PROFILE)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", type=Path, help="JSON file that keeps the latest result of each benchmark")
    parser.add_argument("--readme", type=Path, help="README whose results table is refreshed from --record")
    args = parser.parse_args(argv)
    names = list(REGISTRY) if args.all else args.names
    if not names:
        parser.error(f"name a benchmark ({', '.join(REGISTRY)}) or pass --all")
    if args.readme and not args.record:
        parser.error("--readme needs --record (the table is built from the recorded results)")
    for name in names:
        row = run(name, args.imdb, args.profile, args.seed)
        print(json.dumps(row), flush=True)
        if args.record:
            results = record(row, args.record)
            if args.readme:
                update_readme(args.readme, results)


if __name__ == "__main__":
    main(sys.argv[1:])
