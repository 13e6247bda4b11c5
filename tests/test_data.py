import doctest

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import DatasetDict

from helpers import data


def _reviews(n: int, prefix: str) -> dict[str, list]:
    return {"text": [f"{prefix} review {i} was {'great' if i % 2 else 'awful'}" for i in range(n)],
            "label": [i % 2 for i in range(n)]}


@pytest.fixture
def parquet_dir(tmp_path):
    for split, n in (("train", 10), ("test", 6)):
        pq.write_table(pa.table(_reviews(n, split)), tmp_path / f"{split}.parquet")
    return tmp_path


@pytest.fixture
def aclimdb_dir(tmp_path):
    for split, n in (("train", 3), ("test", 2)):
        for lab in ("pos", "neg"):
            folder = tmp_path / "aclImdb" / split / lab
            folder.mkdir(parents=True)
            for i in range(n):
                (folder / f"{i}_{8 if lab == 'pos' else 2}.txt").write_text(f"{split} {lab} {i}<br />end")
    (tmp_path / "aclImdb" / "train" / "unsup").mkdir()  # the unlabeled folder is ignored
    return tmp_path


def _check_schema(dsd: DatasetDict):
    assert set(dsd) == {"train", "test"}
    for ds in dsd.values():
        assert ds.column_names == ["text", "label"]
        assert ds.features["label"].names == ["neg", "pos"]


def test_parquet_folder(parquet_dir):
    dsd = data.load_imdb(parquet_dir)
    _check_schema(dsd)
    assert (len(dsd["train"]), len(dsd["test"])) == (10, 6)
    assert "parquet" in data.describe_source() and "10 train" in data.describe_source()


def test_imdb_dir_variable(parquet_dir, monkeypatch):
    monkeypatch.setenv("IMDB_DIR", str(parquet_dir))
    assert len(data.load_imdb()["test"]) == 6
    assert "IMDB_DIR" in data.describe_source()


def test_aclimdb_folder_labels_from_folder_names(aclimdb_dir):
    dsd = data.load_imdb(aclimdb_dir)
    _check_schema(dsd)
    assert len(dsd["train"]) == 6 and len(dsd["test"]) == 4
    for row in dsd["train"]:
        assert row["label"] == (1 if " pos " in row["text"] else 0)


def test_aclimdb_root_given_directly(aclimdb_dir):
    assert len(data.load_imdb(aclimdb_dir / "aclImdb")["train"]) == 6


def test_folder_of_neither_layout_is_a_clear_error(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\n")
    with pytest.raises(ValueError) as error:
        data.load_imdb(tmp_path)
    assert str(tmp_path) in str(error.value)
    assert "train.parquet" in str(error.value) and "aclImdb" in str(error.value)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_imdb(tmp_path / "nowhere")


def test_parquet_without_the_columns_is_a_clear_error(tmp_path):
    for split in ("train", "test"):
        pq.write_table(pa.table({"review": ["x"], "sentiment": [1]}), tmp_path / f"{split}.parquet")
    with pytest.raises(ValueError, match="text"):
        data.load_imdb(tmp_path)


def test_offline_falls_back_to_the_bundled_sample_without_trying_a_download(no_network, monkeypatch):
    tried = []
    monkeypatch.setattr(data.hub, "download", lambda name, **kwargs: tried.append(name))
    dsd = data.load_imdb()
    _check_schema(dsd)
    assert "bundled sample" in data.describe_source() and "Hub unreachable" in data.describe_source()
    assert tried == []


def test_bundled_sample_is_large_balanced_and_split_cleanly():
    dsd = data.load_sample()
    assert len(dsd["train"]) + len(dsd["test"]) >= 400
    for ds in dsd.values():
        labels = list(ds["label"])
        assert labels.count(0) == labels.count(1)
    texts = list(dsd["train"]["text"]) + list(dsd["test"]["text"])
    assert len(set(texts)) == len(texts), "duplicate reviews in the sample"
    assert sum("<br />" in t for t in texts) > 20, "the sample should exercise HTML cleaning"


def test_bundled_sample_has_reviews_longer_than_bert_can_read():
    from transformers import AutoTokenizer

    from helpers.models import offline_model_path

    tokenizer = AutoTokenizer.from_pretrained(str(offline_model_path()))
    dsd = data.load_sample()
    for split in ("train", "test"):
        lengths = [len(tokenizer.tokenize(t)) for t in dsd[split]["text"]]
        assert sum(n > 512 for n in lengths) >= 2, split


def test_hub_is_used_when_reachable(monkeypatch, tmp_path):
    hub_copy = tmp_path / "plain_text"  # the Hub repository's layout
    hub_copy.mkdir()
    for split, n in (("train", 10), ("test", 6)):
        pq.write_table(pa.table(_reviews(n, split)), hub_copy / f"{split}-00000-of-00001.parquet")
    pq.write_table(pa.table({"text": ["unlabeled"], "label": [-1]}), hub_copy / "unsupervised.parquet")
    asked = []
    monkeypatch.setattr(data.hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(data.hub, "download", lambda name, **kwargs: asked.append(kwargs) or tmp_path)
    assert len(data.load_imdb()["train"]) == 10
    assert "stanfordnlp/imdb" in data.describe_source()
    assert asked[0]["repo_type"] == "dataset"
    assert not any("unsupervised" in pattern for pattern in asked[0]["allow_patterns"])


def test_a_failing_hub_download_falls_back(monkeypatch, capsys):
    def boom(name, **kwargs):
        raise ConnectionError("reset by peer")

    monkeypatch.setattr(data.hub, "hub_reachable", lambda: True)
    monkeypatch.setattr(data.hub, "download", boom)
    data.load_imdb()
    assert "bundled sample" in data.describe_source() and "Hub download failed" in data.describe_source()
    assert "ConnectionError: reset by peer" in capsys.readouterr().out


@pytest.mark.parametrize("mode", [pytest.param("silent", marks=pytest.mark.slow),  # waits out the 3-s probe
                                  403, 503, "portal", "stalls"])
def test_a_broken_hub_falls_back_to_the_sample_fast(hub_server, monkeypatch, capsys, mode):
    """Fast because bounded: one probe with a 3-s timeout, and a download only if it said yes, which the
    stall detector ends."""
    server = hub_server(mode)
    monkeypatch.setattr(data.hub, "STALL_SECONDS", 1.0)  # "stalls" answers the probe, then nothing
    dsd = data.load_imdb()
    assert server.probes == [(data.hub.endpoint() + data.hub.PROBE_PATH, 3.0)]
    if mode == "stalls":
        assert "Hub download failed" in data.describe_source()
        assert "(TimeoutError: no data from" in capsys.readouterr().out
    else:
        assert "Hub unreachable" in data.describe_source()
    assert "bundled sample" in data.describe_source()
    assert len(dsd["train"]) == len(data.load_sample()["train"])


def test_subsets_are_balanced_and_seeded(parquet_dir):
    a = data.load_imdb(parquet_dir, n_train=4, n_test=2, seed=1)
    b = data.load_imdb(parquet_dir, n_train=4, n_test=2, seed=1)
    assert list(a["train"]["label"]).count(1) == 2 and len(a["test"]) == 2
    assert list(a["train"]["text"]) == list(b["train"]["text"])
    assert "4 train of 10" in data.describe_source()


def test_validation_split_is_stratified_and_disjoint(parquet_dir):
    train = data.load_imdb(parquet_dir)["train"]
    fit, val = data.train_val_split(train, 0.2)
    assert len(fit) + len(val) == len(train)
    assert not set(fit["text"]) & set(val["text"])
    assert list(val["label"]).count(1) == list(val["label"]).count(0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.train_val_split(train, 1.5)


def test_before_loading_the_report_names_the_planned_source(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "_last_source", None)
    assert data.describe_source().startswith("bundled sample")
    monkeypatch.setenv("IMDB_DIR", str(tmp_path))
    assert "IMDB_DIR" in data.describe_source() and "not loaded yet" in data.describe_source()


def test_docstring_examples():
    assert doctest.testmod(data).failed == 0


def _parquet(folder, train: dict, test: dict | None = None):
    for split, table in (("train", train), ("test", test or _reviews(4, "test"))):
        pq.write_table(pa.table(table), folder / f"{split}.parquet")
    return folder


@pytest.mark.parametrize("labels, shown", [
    ([0, 1, 0.7, 1], "0.7"), ([0, 1, -1, 1], "-1"), ([1, 2, 1, 2], "2"),
    (["neg", "pos", "neg", "pos"], "'neg'"), ([0, 1, None, 0], "None"), ([0.0, 1.0, 1.0, 0.0], "0.0"),
    ([True, False, True, False], "True"),
])
def test_labels_other_than_0_and_1_are_an_error_naming_the_file(tmp_path, labels, shown):
    _parquet(tmp_path, {"text": ["a", "b", "c", "d"], "label": labels})
    with pytest.raises(ValueError) as error:
        data.load_imdb(tmp_path)
    message = str(error.value)
    assert str(tmp_path / "train.parquet") in message and f"label {shown}" in message and "0/1" in message


@pytest.mark.parametrize("text", [None, "", "   \n"])
def test_missing_or_empty_texts_are_an_error_naming_the_review(tmp_path, text):
    _parquet(tmp_path, {"text": ["fine", text, "dull", "good"], "label": [1, 0, 0, 1]})
    with pytest.raises(ValueError, match=r"train\.parquet, review 1: text .*non-empty"):
        data.load_imdb(tmp_path)


def test_a_split_with_one_class_is_an_error(tmp_path):
    _parquet(tmp_path, _reviews(4, "train"), {"text": ["good", "great"], "label": [1, 1]})
    with pytest.raises(ValueError, match=r"test\.parquet has no negative \(0\) reviews"):
        data.load_imdb(tmp_path)


def test_an_empty_split_is_an_error(tmp_path):
    empty = {"text": pa.array([], pa.string()), "label": pa.array([], pa.int64())}
    _parquet(tmp_path, _reviews(4, "train"), empty)
    with pytest.raises(ValueError, match=r"test\.parquet holds no reviews"):
        data.load_imdb(tmp_path)


def test_a_broken_parquet_file_is_an_error_naming_it(tmp_path):
    _parquet(tmp_path, _reviews(4, "train"))
    (tmp_path / "test.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match=r"test\.parquet is not a readable parquet file"):
        data.load_imdb(tmp_path)


def test_a_review_that_is_not_utf8_is_an_error_naming_its_file(aclimdb_dir):
    bad = aclimdb_dir / "aclImdb" / "train" / "pos" / "7_9.txt"
    bad.write_bytes("Am\xe9lie, tr\xe8s bon".encode("latin-1"))
    with pytest.raises(ValueError, match=r"7_9\.txt is not UTF-8 .*iconv"):
        data.load_imdb(aclimdb_dir)


def test_an_empty_review_file_is_an_error_naming_it(aclimdb_dir):
    (aclimdb_dir / "aclImdb" / "test" / "neg" / "9_1.txt").write_text("  ")
    with pytest.raises(ValueError, match=r"9_1\.txt is empty"):
        data.load_imdb(aclimdb_dir)


def test_an_aclimdb_split_with_one_class_is_an_error(aclimdb_dir):
    for review in (aclimdb_dir / "aclImdb" / "test" / "neg").glob("*.txt"):
        review.unlink()
    with pytest.raises(ValueError, match=r"test .*has no negative \(0\) reviews"):
        data.load_imdb(aclimdb_dir)


def test_a_file_given_as_the_folder_says_so(parquet_dir, monkeypatch):
    monkeypatch.setenv("IMDB_DIR", str(parquet_dir / "train.parquet"))
    with pytest.raises(NotADirectoryError, match=r"train\.parquet is a file.*Give its folder"):
        data.load_imdb()


@pytest.mark.parametrize("sizes", [{"n_train": -1}, {"n_train": 0}, {"n_test": -5}])
def test_sizes_must_be_positive(parquet_dir, sizes):
    with pytest.raises(ValueError,
                       match=f"{next(iter(sizes))} must be a positive int, or None for the whole split"):
        data.load_imdb(parquet_dir, **sizes)


@pytest.mark.parametrize("sizes", [{"n_train": 2.5}, {"n_train": "100"}, {"n_test": True}])
def test_sizes_must_be_whole_numbers(parquet_dir, sizes):
    with pytest.raises(TypeError,
                       match=f"{next(iter(sizes))} must be a positive int, or None for the whole split"):
        data.load_imdb(parquet_dir, **sizes)
