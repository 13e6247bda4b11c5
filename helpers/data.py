"""IMDB, offline-first: a local folder, then the Hugging Face Hub, then the sample shipped with the course."""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
from datasets import Dataset, DatasetDict

from helpers import hub

IMDB_VARIABLE = "IMDB_DIR"
HUB_DATASET = "stanfordnlp/imdb"
SAMPLE_FILE = "reviews.jsonl"
LAYOUTS = (
    "Hub-style parquet files (train.parquet and test.parquet), or the Stanford aclImdb layout "
    "(train/pos, train/neg, test/pos, test/neg folders of .txt files, optionally inside aclImdb/)"
)

_last_source: str | None = None


def planned_source() -> str:
    """Where `load_imdb()` will look first: $IMDB_DIR, else the Hub when reachable, else the bundled sample."""
    if os.environ.get(IMDB_VARIABLE):
        return f"local folder from {IMDB_VARIABLE}"
    if hub.hub_reachable():
        return f"Hugging Face Hub ({HUB_DATASET})"
    return "bundled sample of the course's own reviews"


def describe_source() -> str:
    """One line: where the last `load_imdb` call got its data and how much, or where it will look."""
    return _last_source or f"{planned_source()} (not loaded yet)"


def _features() -> datasets.Features:
    return datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})


def _from_rows(rows: dict[str, list[dict]]) -> DatasetDict:
    """A DatasetDict with the Hub's columns from {split: [{"text", "label"}, ...]}."""
    return DatasetDict(
        {
            split: Dataset.from_dict(
                {"text": [r["text"] for r in items], "label": [int(r["label"]) for r in items]}, features=_features()
            )
            for split, items in rows.items()
        }
    )


def _aclimdb_root(folder: Path) -> Path | None:
    """The folder holding train/pos etc., the given one or its aclImdb/ child."""
    for root in (folder, folder / "aclImdb"):
        if all((root / split / lab).is_dir() for split in ("train", "test") for lab in ("pos", "neg")):
            return root
    return None


def _read_folder(folder: Path) -> tuple[DatasetDict, str]:
    """Read a parquet or aclImdb folder; raise a clear error for anything else."""
    if not folder.is_dir():
        raise FileNotFoundError(f"IMDB folder {folder} does not exist. Point {IMDB_VARIABLE} or path= at {LAYOUTS}.")
    if all((folder / f"{split}.parquet").is_file() for split in ("train", "test")):
        tables = {split: pq.read_table(folder / f"{split}.parquet") for split in ("train", "test")}
        missing = {s: sorted({"text", "label"} - set(t.column_names)) for s, t in tables.items()}
        if any(missing.values()):
            raise ValueError(f"IMDB parquet files in {folder} lack columns {missing}; expected 'text' and 'label'.")
        rows = {s: t.select(["text", "label"]).to_pylist() for s, t in tables.items()}
        return _from_rows(rows), "parquet"
    root = _aclimdb_root(folder)
    if root is None:
        raise ValueError(f"IMDB folder {folder} holds neither layout the course reads: {LAYOUTS}.")
    rows = {
        split: [
            {"text": f.read_text(encoding="utf-8"), "label": int(lab == "pos")}
            for lab in ("neg", "pos")
            for f in sorted((root / split / lab).glob("*.txt"))
        ]
        for split in ("train", "test")
    }
    return _from_rows(rows), "aclImdb"


def load_sample() -> DatasetDict:
    """The course's own hand-written reviews (shipped in the package), split train/test."""
    text = resources.files("helpers").joinpath("resources", SAMPLE_FILE).read_text(encoding="utf-8")
    rows: dict[str, list[dict]] = {"train": [], "test": []}
    for line in text.splitlines():
        if line.strip():
            record = json.loads(line)
            rows[record["split"]].append(record)
    return _from_rows(rows)


def _from_hub() -> DatasetDict | None:
    """The Hub copy of IMDB, or None when the Hub is unreachable or the download fails."""
    if not hub.hub_reachable():
        return None
    try:
        dsd = datasets.load_dataset(HUB_DATASET)
    except Exception as error:  # any Hub/network failure falls back to the sample
        print(f"Could not load {HUB_DATASET} from the Hub ({type(error).__name__}); using the bundled sample.")
        return None
    return DatasetDict({s: dsd[s] for s in ("train", "test")})


def subsample(ds: Dataset, n: int | None, seed: int = 0) -> Dataset:
    """A label-balanced random subset of `n` rows (all rows, shuffled, when n is None or too large)."""
    ds = ds.shuffle(seed=seed)
    if n is None or n >= len(ds):
        return ds
    labels = np.asarray(ds["label"])
    picked = np.concatenate([np.flatnonzero(labels == c)[: (n + c) // 2] for c in (0, 1)])
    return ds.select(np.sort(picked))


def load_imdb(path: str | os.PathLike | None = None, n_train: int | None = None, n_test: int | None = None,
              seed: int = 0) -> DatasetDict:
    """IMDB as a DatasetDict (train, test; text, label 0=neg 1=pos) from the first source that works.

    Sources in order: `path` or $IMDB_DIR; the Hub (only when reachable); the bundled sample.
    `n_train`/`n_test` take label-balanced random subsets (None keeps the whole split).
    """
    global _last_source
    folder = path or os.environ.get(IMDB_VARIABLE)
    if folder:
        dsd, kind = _read_folder(Path(folder).expanduser())
        origin = f"local folder ({kind}{', from ' + IMDB_VARIABLE if not path else ''})"
    elif (hub_dsd := _from_hub()) is not None:
        dsd, origin = hub_dsd, f"Hugging Face Hub ({HUB_DATASET})"
    else:
        dsd, origin = load_sample(), "bundled sample of the course's own reviews (Hub unreachable, no IMDB_DIR)"
    full = {s: len(d) for s, d in dsd.items()}
    dsd = DatasetDict({"train": subsample(dsd["train"], n_train, seed), "test": subsample(dsd["test"], n_test, seed)})
    sizes = " / ".join(
        f"{len(dsd[s]):,} {s}" + (f" of {full[s]:,}" if len(dsd[s]) < full[s] else "") for s in ("train", "test")
    )
    _last_source = f"{origin}: {sizes}"
    print(f"IMDB from {_last_source}")
    return dsd


def train_val_split(train: Dataset, val_fraction: float = 0.1, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Carve a label-stratified validation split out of `train`; models are selected on it, never on test."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}.")
    parts = train.train_test_split(test_size=val_fraction, seed=seed, stratify_by_column="label")
    return parts["train"], parts["test"]


def fingerprint(dsd: DatasetDict) -> str:
    """12 hex digits that change with any text or label of any split, not with row order or where data came from.

    Two benchmark runs on the same reviews share a fingerprint, so their results replace each other.
    """
    digest = hashlib.sha256()
    for split in sorted(dsd):
        rows = sorted(hashlib.sha256(f"{label}\t{text}".encode()).digest()
                      for text, label in zip(dsd[split]["text"], dsd[split]["label"]))
        digest.update(split.encode() + b"".join(rows))
    return digest.hexdigest()[:12]
