"""IMDB, offline-first: a local folder, then the Hugging Face Hub, then the sample shipped with the course.

Whatever the source, the reviews are checked on load (non-empty texts, labels exactly 0 or 1, both labels
in each split), and an error names the file and says what to fix: a wrong label caught here would
otherwise surface as a strange accuracy many cells later.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Dataset, DatasetDict

from helpers import hub
from helpers.checks import check_size

IMDB_VARIABLE = "IMDB_DIR"
HUB_DATASET = "stanfordnlp/imdb"
# The Hub copy's files, in its plain_text/ folder; the unlabeled split is not downloaded.
HUB_FILES = {"train": "plain_text/train-*.parquet", "test": "plain_text/test-*.parquet"}
SAMPLE_FILE = "reviews.jsonl"
LAYOUTS = (
    "Hub-style parquet files (train.parquet and test.parquet), or the Stanford aclImdb layout "
    "(train/pos, train/neg, test/pos, test/neg folders of .txt files, optionally inside aclImdb/)"
)
SPLITS = ("train", "test")

_last_source: str | None = None


def planned_source() -> str:
    """Where `load_imdb()` will look first: $IMDB_DIR, else the Hub if reachable, else the sample."""
    if os.environ.get(IMDB_VARIABLE):
        return f"local folder from {IMDB_VARIABLE}"
    if hub.hub_reachable():
        return f"Hugging Face Hub ({HUB_DATASET})"
    return "bundled sample of the course's own reviews"


def describe_source() -> str:
    """One line: where the last `load_imdb` call got its data and how much, or where it will look."""
    return _last_source or f"{planned_source()} (not loaded yet)"


def _features() -> datasets.Features:
    label = datasets.ClassLabel(names=["neg", "pos"])
    return datasets.Features({"text": datasets.Value("string"), "label": label})


def check_reviews(texts: list, labels: list, origin: str) -> None:
    """Raise a ValueError naming `origin` unless each text is non-empty, each label is the int 0 or 1,
    and both labels occur.

    >>> check_reviews(["a fine film", "a dull film"], [1, 0], "example")
    >>> check_reviews(["a fine film", "a dull film"], [1, 0.7], "example")
    Traceback (most recent call last):
    ...
    ValueError: example, review 1: label 0.7 (float), one of 1 such; labels must be the integers \
0 (negative) and 1 (positive). Map other labels (1/2, 'neg'/'pos', ratings, floats) to 0/1 first.
    """
    if not texts:
        raise ValueError(f"{origin} holds no reviews: each split needs negative and positive reviews.")
    # First a value other than 0 and 1 (0.7, -1, 2, 'pos', None), then a 0 or 1 of another type (True).
    wrong = [i for i, label in enumerate(labels) if label not in (0, 1)]
    wrong = wrong or [i for i, label in enumerate(labels) if type(label) is not int]
    if wrong:
        label = labels[wrong[0]]
        raise ValueError(
            f"{origin}, review {wrong[0]}: label {label!r} ({type(label).__name__}), "
            f"one of {len(wrong):,} such; labels must be the integers 0 (negative) and 1 (positive). "
            f"Map other labels (1/2, 'neg'/'pos', ratings, floats) to 0/1 first.")
    empty = [i for i, text in enumerate(texts) if not isinstance(text, str) or not text.strip()]
    if empty:
        raise ValueError(
            f"{origin}, review {empty[0]}: text {texts[empty[0]]!r}, one of {len(empty):,} such; every "
            f"review must be non-empty text. Remove those reviews or fill in their text.")
    missing = {0, 1} - set(labels)
    if missing:
        kind = "negative (0)" if 0 in missing else "positive (1)"
        raise ValueError(f"{origin} has no {kind} reviews: a split with one class can neither train nor "
                         f"measure a sentiment model. Check that the file holds the whole split.")


def _dataset(texts: list, labels: list, origin: str) -> Dataset:
    """A checked Dataset with the Hub's columns (text; label 0=neg, 1=pos)."""
    check_reviews(texts, labels, origin)
    return Dataset.from_dict({"text": texts, "label": labels}, features=_features())


def _read_parquet(files: list[Path]) -> Dataset:
    """One split from parquet files with `text` and `label` columns, checked; errors name the file."""
    texts, labels = [], []
    for file in files:
        try:
            table = pq.read_table(file)
        except (OSError, pa.ArrowException) as error:
            raise ValueError(f"{file} is not a readable parquet file ({error}). "
                             f"Replace it with a fresh copy.") from error
        missing = sorted({"text", "label"} - set(table.column_names))
        if missing:
            raise ValueError(f"{file} lacks the column(s) {missing} (it has {table.column_names}); the "
                             f"course reads 'text' (the review) and 'label' (0 negative, 1 positive). "
                             f"Rename the columns.")
        texts += table.column("text").to_pylist()
        labels += table.column("label").to_pylist()
    return _dataset(texts, labels, ", ".join(map(str, files)) or "no parquet file")


def _aclimdb_root(folder: Path) -> Path | None:
    """The folder holding train/pos etc., the given one or its aclImdb/ child."""
    for root in (folder, folder / "aclImdb"):
        if all((root / split / lab).is_dir() for split in SPLITS for lab in ("pos", "neg")):
            return root
    return None


def _read_review(file: Path) -> str:
    """One review file's text; a file that is not UTF-8 is an error that names it."""
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        byte = error.object[error.start]
        raise ValueError(f"{file} is not UTF-8 text (byte {byte:#x} at position {error.start}). Re-save "
                         f"it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`) or remove it.") from error


def _read_aclimdb(root: Path, split: str) -> Dataset:
    """One split of the aclImdb layout: labels from the pos/neg folder names."""
    files = [(f, int(lab == "pos")) for lab in ("neg", "pos")
             for f in sorted((root / split / lab).glob("*.txt"))]
    texts = [_read_review(f) for f, _ in files]
    for (file, _), text in zip(files, texts):
        if not text.strip():
            raise ValueError(f"{file} is empty; every review must be non-empty text. Remove the file.")
    return _dataset(texts, [label for _, label in files], f"{root / split} (its pos/ and neg/ folders)")


def _read_folder(folder: Path) -> tuple[DatasetDict, str]:
    """Read a parquet or aclImdb folder; raise a clear error for anything else."""
    if folder.is_file():
        raise NotADirectoryError(f"{folder} is a file; {IMDB_VARIABLE} and path= name the folder that "
                                 f"holds {LAYOUTS}. Give its folder, {folder.parent}, if the other split "
                                 f"is beside it.")
    if not folder.is_dir():
        raise FileNotFoundError(f"IMDB folder {folder} does not exist. Point {IMDB_VARIABLE} or path= at "
                                f"{LAYOUTS}.")
    if all((folder / f"{split}.parquet").is_file() for split in SPLITS):
        return DatasetDict({s: _read_parquet([folder / f"{s}.parquet"]) for s in SPLITS}), "parquet"
    root = _aclimdb_root(folder)
    if root is None:
        raise ValueError(f"IMDB folder {folder} holds neither layout the course reads: {LAYOUTS}.")
    return DatasetDict({split: _read_aclimdb(root, split) for split in SPLITS}), "aclImdb"


def load_sample() -> DatasetDict:
    """The course's own hand-written reviews (shipped in the package), split train/test."""
    text = resources.files("helpers").joinpath("resources", SAMPLE_FILE).read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return DatasetDict({
        split: _dataset([r["text"] for r in records if r["split"] == split],
                        [r["label"] for r in records if r["split"] == split],
                        f"bundled {SAMPLE_FILE}, {split}")
        for split in SPLITS
    })


def _from_hub() -> tuple[DatasetDict | None, str]:
    """(the Hub copy of IMDB, "") or (None, why not): the Hub is unreachable, or the download failed."""
    if not hub.hub_reachable():
        return None, "Hub unreachable"
    try:
        folder = hub.download(HUB_DATASET, repo_type="dataset", allow_patterns=list(HUB_FILES.values()))
    except Exception as error:  # a proxy, a dead mirror, a 4xx/5xx, a stall: the sample it is
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
        print(f"Could not download {HUB_DATASET} from the Hub ({reason}); using the bundled sample.")
        return None, "Hub download failed"
    splits = {split: _read_parquet(sorted(folder.glob(pattern))) for split, pattern in HUB_FILES.items()}
    return DatasetDict(splits), ""


def subsample(ds: Dataset, n: int | None, seed: int = 0) -> Dataset:
    """A label-balanced random subset of `n` rows (all rows, shuffled, when n is None or too large)."""
    check_size(n, "n", none_means="the whole split")
    ds = ds.shuffle(seed=seed)
    if n is None or n >= len(ds):
        return ds
    labels = np.asarray(ds["label"])
    picked = np.concatenate([np.flatnonzero(labels == c)[: (n + c) // 2] for c in (0, 1)])
    return ds.select(np.sort(picked))


def load_imdb(path: str | os.PathLike | None = None, n_train: int | None = None,
              n_test: int | None = None, seed: int = 0) -> DatasetDict:
    """IMDB as a DatasetDict (train, test; text, label 0=neg 1=pos) from the first source that works.

    Sources in order: `path` or $IMDB_DIR; the Hub (only when reachable); the bundled sample. Every
    source is checked on load. `n_train`/`n_test` take label-balanced random subsets (None keeps the
    whole split).
    """
    global _last_source
    check_size(n_train, "n_train", none_means="the whole split")
    check_size(n_test, "n_test", none_means="the whole split")
    folder = path or os.environ.get(IMDB_VARIABLE)
    if folder:
        dsd, kind = _read_folder(Path(folder).expanduser())
        origin = f"local folder ({kind}{', from ' + IMDB_VARIABLE if not path else ''})"
    else:
        dsd, why_not = _from_hub()
        origin = f"Hugging Face Hub ({HUB_DATASET})"
        if dsd is None:
            dsd = load_sample()
            origin = f"bundled sample of the course's own reviews ({why_not}, no {IMDB_VARIABLE})"
    full = {split: len(ds) for split, ds in dsd.items()}
    dsd = DatasetDict({"train": subsample(dsd["train"], n_train, seed),
                       "test": subsample(dsd["test"], n_test, seed)})
    sizes = " / ".join(f"{len(dsd[s]):,} {s}" + (f" of {full[s]:,}" if len(dsd[s]) < full[s] else "")
                       for s in SPLITS)
    _last_source = f"{origin}: {sizes}"
    print(f"IMDB from {_last_source}")
    return dsd


def train_val_split(train: Dataset, val_fraction: float = 0.1, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Carve a label-stratified validation split out of `train`: models are selected on it, not on test."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}.")
    parts = train.train_test_split(test_size=val_fraction, seed=seed, stratify_by_column="label")
    return parts["train"], parts["test"]


def fingerprint(dsd: DatasetDict) -> str:
    """12 hex digits that change with any text or label of any split, not with row order or where data
    came from.

    Two benchmark runs on the same reviews share a fingerprint, so their results replace each other.
    """
    digest = hashlib.sha256()
    for split in sorted(dsd):
        rows = sorted(hashlib.sha256(f"{label}\t{text}".encode()).digest()
                      for text, label in zip(dsd[split]["text"], dsd[split]["label"]))
        digest.update(split.encode() + b"".join(rows))
    return digest.hexdigest()[:12]
