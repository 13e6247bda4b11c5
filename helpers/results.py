"""The recorded benchmark results: one JSON file of rows, and the tables RESULTS.md and chapter 10 show.

    recorded = results.load_results()   # {key: row}: the latest row of each benchmark, model, profile, data
    results.tables(recorded)            # the IMDB classifiers, then one table per other benchmark
    results.markdown_tables(recorded)   # the same tables in Markdown, as RESULTS.md shows them

Each row describes itself (`python -m helpers.bench` stamps it when it runs): `table` (IMDB_TABLE, or the
benchmark's own name), `description`, `key` (the fields that tell one benchmark's rows apart) and, for a table
of its own, `columns` (the fields it shows). So the tables are made from the file alone, without importing
the models that made the rows.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from typing import NamedTuple
from dataclasses import dataclass
from pathlib import Path

from helpers import storage

# The recorded results ship inside the package, so chapter 10 can show them in Colab too.
RESULTS = Path(__file__).resolve().parent / "resources" / "benchmark_results.json"
TABLE_START, TABLE_END = "<!-- bench:start -->", "<!-- bench:end -->"
IMDB_TABLE = "IMDB classifiers"  # the `table` of the rows that are one classifier's accuracy on IMDB
STAMPS = ("benchmark", "profile", "table", "description", "key")  # what every recorded row must carry


# --- The results file --------------------------------------------------------------------------------------


def row_key(row: dict) -> str:
    """Rows with the same key replace each other: benchmark, its key fields, profile and data.

    >>> row_key({"benchmark": "seq2seq", "key": ["model"], "model": "gru", "profile": "cpu"})
    'seq2seq|gru|cpu|'
    """
    parts = [row["benchmark"], *(str(row[field]) for field in row["key"]), row["profile"]]
    return "|".join([*parts, row.get("data_fingerprint", "")])


def check_row(row: dict) -> dict:
    """The row, if it carries what its table needs; else a clear error."""
    missing = [s for s in STAMPS if s not in row]
    if row.get("table", IMDB_TABLE) != IMDB_TABLE and "columns" not in row:
        missing.append("columns")  # a table of its own shows the fields the row lists
    if missing:
        raise ValueError(f"Result row {row.get('benchmark', row)!r} lacks {', '.join(missing)}: record the "
                         "rows that helpers.bench.run returns (it stamps them).")
    return row


def load_results(path: Path = RESULTS) -> dict[str, dict]:
    """The recorded rows ({key: row}); an empty dict when the file does not exist yet."""
    return json.loads(path.read_text()) if path.exists() else {}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside `path`, so that two runs recording at once keep each other's rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(row: dict) -> tuple:
    """What one run of a benchmark is: the benchmark, the profile and the data it read."""
    return row["benchmark"], row["profile"], row.get("data_fingerprint")


def record(rows: list[dict], path: Path, readme: Path | None = None) -> dict[str, dict]:
    """Store `rows` in the results file, in place of every earlier row of the same benchmark, profile and
    data (a run's rows are its whole answer: a row it no longer gives must not linger); refresh RESULTS.md."""
    rows = [check_row(row) for row in rows]
    runs = {_run(row) for row in rows}
    with _locked(path):
        kept = {key: row for key, row in load_results(path).items() if _run(row) not in runs}
        recorded = kept | {row_key(row): row for row in rows}
        storage.write_file(path, json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        if readme is not None:
            update_readme(readme, recorded)
    return recorded


# --- The tables --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a results table: its header, the row field it shows, how Markdown marks its cells."""

    header: str
    field: str  # its name also picks the cell's format (see `cell`)
    markdown: str = "{}"


@dataclass(frozen=True)
class Table:
    """One results table: a title, what its benchmark measures, its columns, its rows of raw values."""

    title: str
    description: str
    columns: tuple[Column, ...]
    rows: list[list]
    where: str = ""  # the profile and machine, when every row shares them (else they are columns)


# Where a table's rows were measured; `ran_on` is the machine and the date in one cell. When every row shares
# them they go into the table's heading instead, so the table keeps only what differs from row to row.
WHERE = (Column("profile", "profile"), Column("machine", "ran_on"))
# Headers for the fields benchmarks record; a field not named here is shown with its underscores as spaces.
HEADERS = {"size_bytes": "size", "build_seconds": "build time", "latency_p50_ms": "latency p50",
           "latency_p95_ms": "latency p95", "throughput_per_s": "reviews/s",
           "throughput_ratio_vs_eager": "× eager", "accuracy_delta_points": "Δ accuracy", "seq_len": "tokens",
           "seconds": "time", "peak_bytes": "peak memory", "long_input_accuracy": "long-input accuracy",
           "n_train": "train pairs", "n_test": "test pairs", "train_seconds": "train time",
           "label_agreement": "same labels as eager"}
# Tables that spread one key field across each cell, one value per setting: a row per attention pattern, its
# time at every length in one cell, rather than a row per pattern and length.
PIVOTS = {"long_attention": "seq_len"}
IMDB_COLUMNS = (Column("model", "model", "`{}`"), Column("what it is", "description"),
                Column("test accuracy", "test_accuracy", "**{}**"),
                Column("validation accuracy", "val_accuracy"),
                Column("train / val / test reviews", "reviews"), Column("data", "data"), WHERE[0],
                Column("train time", "train_seconds"), WHERE[1])


class Interval(NamedTuple):
    """A measured rate with its 95% interval, recorded as FIELD and FIELD_interval (shown in one cell)."""

    value: float
    low: float
    high: float


def cell(field: str, value) -> str:
    """One cell as text: accuracies as percentages, times and sizes with units, counts with separators.

    >>> [cell("test_accuracy", 0.9006), cell("train_seconds", 1729.78), cell("reviews", (22500, 2500, 25000))]
    ['90.1%', '1,730 s', '22,500 / 2,500 / 25,000']
    >>> [cell("seconds", 0.0042), cell("size_bytes", 90299223), cell("accuracy_delta_points", -1.6667)]
    ['4.2 ms', '90.3 MB', '-1.7 points']
    >>> cell("label_agreement", Interval(0.969, 0.956, 0.978))
    '96.9% [95.6, 97.8]'
    """
    if value is None:
        return ""
    if isinstance(value, Interval):
        scale = 1 if field.endswith("_points") else 100
        return f"{cell(field, value.value)} [{scale * value.low:.1f}, {scale * value.high:.1f}]"
    if isinstance(value, tuple):
        return " / ".join(cell(field, v) for v in value)
    if field.endswith(("accuracy", "agreement")):
        return f"{value:.1%}"
    if field.endswith("_points"):
        return f"{value:+.1f} points"
    if field.endswith("seconds") or field == "seconds":
        if 0 < value < 1:
            return f"{value * 1000:.1f} ms" if value < 0.01 else f"{value * 1000:.0f} ms"
        return f"{value:,.0f} s" if value >= 10 or value == 0 else f"{value:.2f} s"
    if field.endswith("bytes"):
        return f"{value / 1e6:,.1f} MB"  # decimal megabytes, as chapter 09 prints sizes on disk
    if field.endswith("_ms"):
        return f"{value:.1f} ms"
    if "_ratio_" in field:
        return f"{value:.2f}×"
    if field.endswith("_per_s"):
        return f"{value:.1f}"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _shown(row: dict) -> dict:
    """The row with the fields its table shows but that are made of others."""
    shown = row | {"ran_on": f"{row['machine']}, {row['date']}"}
    for field in [f for f in row if f + "_interval" in row]:  # a rate and its interval, in one cell
        shown[field] = Interval(row[field], *row[field + "_interval"])
    if row["table"] == IMDB_TABLE:
        shown["reviews"] = (row["n_train"], row["n_val"], row["n_test"])
    return shown


def _spread(rows: list[dict], across: str) -> list[dict]:
    """One row per value of the other key fields; a field that varies `across` them becomes a tuple, in order.

    >>> rows = [{"key": ["p", "n"], "p": "a", "n": n, "k": 9, "t": n / 10} for n in (2, 1)]
    >>> _spread(rows, "n")
    [{'key': ['p', 'n'], 'p': 'a', 'n': (1, 2), 'k': 9, 't': (0.1, 0.2)}]
    """
    groups: dict[tuple, list[dict]] = {}
    for row in sorted(rows, key=lambda r: r[across]):
        groups.setdefault(tuple(str(row[k]) for k in row["key"] if k != across), []).append(row)
    spread = []
    for group in groups.values():
        values = {field: [row.get(field) for row in group] for field in group[0]}
        spread.append({field: v[0] if all(x == v[0] for x in v) else tuple(v) for field, v in values.items()})
    return spread


def _table(title: str, description: str, columns: tuple[Column, ...], rows: list[dict]) -> Table:
    shown = [_shown(row) for row in rows]
    where = {(row["profile"], row["ran_on"]) for row in shown}
    if len(where) == 1:  # every row measured alike: say so once, above the table
        columns = tuple(c for c in columns if c not in WHERE)
        profile, ran_on = where.pop()
        return Table(title, description, columns, [[row.get(c.field) for c in columns] for row in shown],
                     f"{profile} profile on {ran_on}")
    return Table(title, description, columns, [[row.get(c.field) for c in columns] for row in shown])


def tables(recorded: dict[str, dict]) -> list[Table]:
    """The IMDB classifiers (by profile, best test accuracy first), then one table per other benchmark."""
    rows = [check_row(row) for row in recorded.values()]
    imdb = sorted((r for r in rows if r["table"] == IMDB_TABLE),
                  key=lambda r: (r["profile"], -r["test_accuracy"]))
    made = [_table(IMDB_TABLE, "", IMDB_COLUMNS, imdb)] if imdb else []
    for name in sorted({r["table"] for r in rows} - {IMDB_TABLE}):
        mine = sorted((r for r in rows if r["table"] == name), key=row_key)
        fields, across = mine[0]["columns"], PIVOTS.get(name)
        if across:  # e.g. "time at 1,024 / 2,048 tokens": one row per pattern, a value per length in a cell
            settings = cell(across, tuple(sorted({r[across] for r in mine})))
            mine, fields = _spread(mine, across), [f for f in fields if f != across]
            varying = {f for f in fields if all(isinstance(r[f], tuple) for r in mine)}
        columns = tuple(Column(f"{_header(f)} at {settings} {_header(across)}" if across and f in varying
                               else _header(f), f) for f in fields)
        made.append(_table(name, mine[0]["description"], (*columns, *WHERE), mine))
    return made


def _header(field: str) -> str:
    """A column's header: HEADERS' name for a recorded field, else the field with spaces.

    >>> _header("size_bytes"), _header("keys_per_query")
    ('size', 'keys per query')
    """
    return HEADERS.get(field, field.replace("_", " "))


def heading(table: Table, markdown: bool = False) -> str:
    """The line above a table: what it measures, and where when every row shares that."""
    if table.title == IMDB_TABLE:
        what = "" if markdown else IMDB_TABLE  # RESULTS.md's section says what the table is
    else:
        what = (f"**`{table.title}`**" if markdown else table.title) + f": {table.description}"
    where = f"measured in the {table.where}" if table.where else ""
    return f"{what} ({where})" if what and where else what or where[:1].upper() + where[1:]


def text_rows(table: Table) -> list[list[str]]:
    """The table's cells as text, as RESULTS.md and chapter 10 show them."""
    return [[cell(c.field, v) for c, v in zip(table.columns, values)] for values in table.rows]


def _markdown(table: Table) -> str:
    lines = ["| " + " | ".join(c.header for c in table.columns) + " |", "|" + "---|" * len(table.columns)]
    for texts in text_rows(table):
        lines.append("| " + " | ".join(c.markdown.format(t) for c, t in zip(table.columns, texts)) + " |")
    line = heading(table, markdown=True)
    return "\n".join(([line, ""] if line else []) + lines)


def markdown_tables(recorded: dict[str, dict]) -> str:
    """The benchmark tables in Markdown, as RESULTS.md shows them."""
    return "\n\n".join(_markdown(table) for table in tables(recorded))


def readme_section(text: str) -> str:
    """The text between the bench markers of a Markdown file (RESULTS.md)."""
    if TABLE_START not in text or TABLE_END not in text:
        raise SystemExit(f"The file has no {TABLE_START} ... {TABLE_END} markers to put the tables "
                         "between.")
    return text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip("\n")


def update_readme(readme: Path, recorded: dict[str, dict]) -> None:
    """Replace the tables between the bench markers in a Markdown file (RESULTS.md)."""
    text = readme.read_text()
    readme_section(text)  # refuses a README without markers before anything is written
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    storage.write_file(readme, f"{head}{TABLE_START}\n{markdown_tables(recorded)}\n{TABLE_END}{tail}")
