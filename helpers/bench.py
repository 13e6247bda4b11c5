"""Benchmarks: train and evaluate course models, print one JSON line per result, keep the README tables.

    python -m helpers.bench tfidf_logreg --imdb ../shared/data/imdb --profile cpu
    python -m helpers.bench --all --record helpers/resources/benchmark_results.json --readme README.md

A benchmark is a function registered under a name. An IMDB benchmark gets (train, val, test, profile), with
validation carved from train and test scored once; a benchmark with its own data (a generated task, a timing
sweep) gets (profile, seed). Either returns one result row (a dict) or several (a list of dicts, one per model
or variant). Every row is stamped with what reproduces it: profile, seed, data fingerprint, git commit, library
versions, machine and date.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import importlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers import config, data, environment

TABLE_START, TABLE_END = "<!-- bench:start -->", "<!-- bench:end -->"
# The recorded results ship inside the package, so chapter 10 can show them in Colab too.
RESULTS = Path(__file__).resolve().parent / "resources" / "benchmark_results.json"
IMDB_TABLE = "imdb"
# The IMDB table's columns; other benchmarks list their own.
IMDB_COLUMNS = ("test_accuracy", "val_accuracy", "n_train", "n_val", "n_test", "data", "profile", "train_seconds")


@dataclass(frozen=True)
class Benchmark:
    """A registered benchmark: what it measures, how it is fed, how its rows are keyed and shown."""

    name: str
    description: str
    fn: Callable[..., dict | list[dict]]
    imdb: bool  # fed IMDB splits (True) or its own data (False)
    key: tuple[str, ...]  # row fields that tell this benchmark's rows apart (e.g. ("model",))
    columns: tuple[str, ...]  # row fields shown in its README table


REGISTRY: dict[str, Benchmark] = {}
# Modules whose import registers benchmarks; a chapter that adds a benchmark adds its module here.
BENCHMARK_MODULES: tuple[str, ...] = ("helpers.baselines", "helpers.classifiers", "helpers.finetune",
                                      "helpers.ensemble", "helpers.seq2seq", "helpers.transformer",
                                      "helpers.long_attention", "helpers.deploy")


def register(name: str, description: str, *, imdb: bool = True, key: Sequence[str] = (),
             columns: Sequence[str] = IMDB_COLUMNS) -> Callable:
    """Register fn under `name`.

    imdb=True:  fn(train, val, test, profile) -> row or rows; rows go in the README's IMDB table.
    imdb=False: fn(profile, seed) -> row or rows; rows go in a table of their own with `columns`.
    `key` names the fields that make rows of one benchmark distinct (each row must have them).
    """
    if not imdb and tuple(columns) == IMDB_COLUMNS:
        raise ValueError(f"Benchmark {name!r} brings its own data: list the row fields its table shows (columns=).")

    def add(fn: Callable) -> Callable:
        REGISTRY[name] = Benchmark(name, description, fn, imdb, tuple(key), tuple(columns))
        return fn

    return add


def _rows(result: dict | list[dict], benchmark: Benchmark) -> list[dict]:
    rows = [result] if isinstance(result, dict) else list(result)
    if not rows:
        raise ValueError(f"Benchmark {benchmark.name!r} returned no result rows.")
    for row in rows:
        missing = [k for k in benchmark.key if k not in row]
        if missing:
            raise ValueError(f"Benchmark {benchmark.name!r} returned a row without its key field(s) {missing}.")
    return rows


def _check_names(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise SystemExit(f"Unknown benchmark(s) {', '.join(map(repr, unknown))}. "
                         f"Registered: {', '.join(sorted(REGISTRY))}.")


def run(name: str, imdb: str | None = None, profile_name: str | None = None, seed: int = 0) -> list[dict]:
    """Run one registered benchmark and return its result rows, each stamped with what reproduces it."""
    _load_benchmarks()
    _check_names([name])
    benchmark = REGISTRY[name]
    profile = config.get_profile(profile_name)
    config.seed_everything(seed)
    stamp: dict = {"benchmark": name, "profile": profile.name, "seed": seed}
    if benchmark.imdb:
        dsd = data.load_imdb(imdb, n_train=profile.n_train, n_test=profile.n_test, seed=seed)
        train, val = data.train_val_split(dsd["train"], 0.1, seed=seed)
        result = benchmark.fn(train, val, dsd["test"], profile)
        stamp |= {"data": data.describe_source().split(":")[0], "data_fingerprint": data.fingerprint(dsd),
                  "n_train": len(train), "n_val": len(val), "n_test": len(dsd["test"])}
    else:
        result = benchmark.fn(profile, seed)
    rows = []
    for row in _rows(result, benchmark):
        rows.append({"model": name, **stamp, **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()},
                     "commit": environment.git_commit(), "versions": environment.versions(),
                     "machine": environment.machine_description(), "date": time.strftime("%Y-%m-%d")})
    return rows


def row_key(row: dict) -> str:
    """Rows with the same key replace each other: benchmark, its key fields, profile and data."""
    benchmark = REGISTRY.get(row["benchmark"])
    fields = benchmark.key if benchmark else ("model",)
    parts = [row["benchmark"], *(str(row[f]) for f in fields), row["profile"], row.get("data_fingerprint", "")]
    return "|".join(parts)


def load_results(path: Path = RESULTS) -> dict[str, dict]:
    """The recorded rows ({key: row}); an empty dict when the file does not exist yet."""
    return json.loads(path.read_text()) if path.exists() else {}


def _write_atomically(path: Path, text: str) -> None:
    """Write a unique temporary file beside `path`, then rename it: readers see the old file or the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside `path` so that two runs recording at once do not lose each other's rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def record(rows: list[dict], path: Path, readme: Path | None = None) -> dict[str, dict]:
    """Store `rows` in the results file (replacing earlier runs with the same keys); refresh the README tables."""
    with _locked(path):
        results = load_results(path)
        results |= {row_key(row): row for row in rows}
        _write_atomically(path, json.dumps(results, indent=1, sort_keys=True) + "\n")
        if readme is not None:
            update_readme(readme, results)
    return results


def _cell(field: str, value) -> str:
    """One table cell: accuracies as percentages, seconds and bytes with units, counts with separators."""
    if value is None:
        return ""
    if field.endswith("accuracy") or field.endswith("_points"):
        return f"{value:.1%}" if field.endswith("accuracy") else f"{value:+.2f}"
    if field.endswith("seconds"):
        return f"{value:,.0f} s" if value >= 10 else f"{value:.2f} s"
    if field.endswith("bytes"):
        return f"{value / 2**20:,.1f} MiB"
    if field.endswith("_ms"):
        return f"{value:.1f} ms"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _imdb_table(rows: list[dict]) -> list[str]:
    lines = ["| model | what it is | test accuracy | validation accuracy | train / val / test reviews | data | "
             "profile | train time | machine |", "|---|---|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["profile"], -r["test_accuracy"])):
        benchmark = REGISTRY.get(row["benchmark"])
        description = row.get("description") or (benchmark.description if benchmark else "")
        lines.append(
            f"| `{row['model']}` | {description} | **{row['test_accuracy']:.1%}** | {_cell('val_accuracy', row.get('val_accuracy'))} | "
            f"{row['n_train']:,} / {row['n_val']:,} / {row['n_test']:,} | {row['data']} | {row['profile']} | "
            f"{_cell('train_seconds', row['train_seconds'])} | {row['machine']}, {row['date']} |")
    return lines


def _own_table(benchmark: Benchmark | None, name: str, rows: list[dict]) -> list[str]:
    columns = benchmark.columns if benchmark else tuple(k for k in rows[0] if k in IMDB_COLUMNS)
    description = benchmark.description if benchmark else ""
    lines = [f"**`{name}`**: {description}", "",
             "| " + " | ".join(c.replace("_", " ") for c in columns) + " | profile | machine |",
             "|" + "---|" * (len(columns) + 2)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(c, row.get(c)) for c in columns)
                     + f" | {row['profile']} | {row['machine']}, {row['date']} |")
    return lines


def markdown_tables(results: dict[str, dict]) -> str:
    """The README's benchmark tables: IMDB classifiers first (best test accuracy first), then one per benchmark."""
    _load_benchmarks()
    rows = list(results.values())
    imdb = [r for r in rows if "n_val" in r]  # IMDB benchmarks are stamped with their split sizes
    parts = [_imdb_table(imdb)] if imdb else []
    others = sorted({r["benchmark"] for r in rows} - {r["benchmark"] for r in imdb})
    for name in others:
        mine = sorted((r for r in rows if r["benchmark"] == name), key=row_key)
        parts.append(_own_table(REGISTRY.get(name), name, mine))
    return "\n\n".join("\n".join(p) for p in parts)


def readme_section(text: str) -> str:
    """The text between the bench markers of a README."""
    if TABLE_START not in text or TABLE_END not in text:
        raise SystemExit(f"The README has no {TABLE_START} ... {TABLE_END} markers to put the tables between.")
    return text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip("\n")


def update_readme(readme: Path, results: dict[str, dict]) -> None:
    """Replace the tables between the bench markers in the README."""
    text = readme.read_text()
    readme_section(text)  # refuses a README without markers before anything is written
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    _write_atomically(readme, f"{head}{TABLE_START}\n{markdown_tables(results)}\n{TABLE_END}{tail}")


def _load_benchmarks() -> None:
    """Import the modules that register benchmarks (each chapter's module registers its own)."""
    for module in BENCHMARK_MODULES:
        importlib.import_module(module)


def main(argv: list[str] | None = None) -> None:
    _load_benchmarks()
    parser = argparse.ArgumentParser(prog="python -m helpers.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(REGISTRY)}")
    parser.add_argument("--all", action="store_true", help="run every registered benchmark")
    parser.add_argument("--imdb", help="IMDB folder (parquet or aclImdb); default $IMDB_DIR, the Hub, or the sample")
    parser.add_argument("--profile", choices=list(config.PROFILES), help="course profile (default $COURSE_PROFILE)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", type=Path, help="JSON file that keeps the latest result of each benchmark")
    parser.add_argument("--readme", type=Path, help="README whose results tables are refreshed from --record")
    args = parser.parse_args(argv)
    names = list(REGISTRY) if args.all else args.names
    if not names:
        parser.error(f"name a benchmark ({', '.join(REGISTRY)}) or pass --all")
    if args.readme and not args.record:
        parser.error("--readme needs --record (the tables are built from the recorded results)")
    _check_names(names)
    if args.readme:
        readme_section(args.readme.read_text())
    for name in names:
        rows = run(name, args.imdb, args.profile, args.seed)
        for row in rows:
            print(json.dumps(row), flush=True)
        if args.record:
            record(rows, args.record, args.readme)

if __name__ == "__main__":
    # Run as `python -m helpers.bench`, this file is __main__, a second copy of the module: the chapters'
    # modules register into helpers.bench's REGISTRY, so main must be that module's.
    from helpers import bench

    bench.main(sys.argv[1:])
