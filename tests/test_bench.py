import json

import pytest

from helpers import bench


@pytest.fixture
def spy_benchmark():
    seen = {}

    def fake(train, val, test, profile):
        seen.update(train=set(train["text"]), val=set(val["text"]), test=set(test["text"]), profile=profile.name)
        return {"test_accuracy": 0.5, "val_accuracy": 0.75, "train_seconds": 1.0}

    bench.register("spy", "records what it is given")(fake)
    yield seen
    del bench.REGISTRY["spy"]


def test_course_benchmarks_are_registered():
    assert {"tfidf_logreg", "nbow_bigram", "bilstm"} <= set(bench.REGISTRY)


def test_selection_data_never_includes_test(spy_benchmark):
    row = bench.run("spy", profile_name="smoke")
    assert spy_benchmark["profile"] == "smoke"
    assert not spy_benchmark["train"] & spy_benchmark["test"]
    assert not spy_benchmark["val"] & spy_benchmark["test"]
    assert not spy_benchmark["train"] & spy_benchmark["val"]
    for key in ("model", "profile", "n_train", "n_test", "test_accuracy", "train_seconds", "machine"):
        assert key in row
    assert row["n_train"] == len(spy_benchmark["train"]) and row["n_test"] == len(spy_benchmark["test"])


def test_tfidf_baseline_runs_end_to_end_on_the_sample(capsys):
    bench.main(["tfidf_logreg", "--profile", "smoke"])
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["model"] == "tfidf_logreg" and 0.5 < row["test_accuracy"] <= 1.0
    assert row["params"]["C"] in (1.0, 3.0, 10.0, 30.0)


def test_results_refresh_the_readme_table(tmp_path, spy_benchmark):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{bench.TABLE_START}\nold\n{bench.TABLE_END}\noutro\n")
    results = tmp_path / "results.json"
    bench.main(["spy", "--profile", "smoke", "--record", str(results), "--readme", str(readme)])
    bench.main(["spy", "--profile", "smoke", "--record", str(results), "--readme", str(readme)])
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert text.count("| `spy` |") == 1, "a rerun replaces its row"
    assert "**50.0%**" in text
    assert len(json.loads(results.read_text())) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_readme_without_markers_is_refused_untouched(tmp_path, spy_benchmark):
    readme = tmp_path / "README.md"
    readme.write_text("no table here\n")
    with pytest.raises(SystemExit, match="markers"):
        bench.main(["spy", "--profile", "smoke", "--record", str(tmp_path / "r.json"), "--readme", str(readme)])
    assert readme.read_text() == "no table here\n"


def test_unknown_benchmark_lists_the_known_ones():
    with pytest.raises(SystemExit, match="tfidf_logreg"):
        bench.run("gpt5", profile_name="smoke")
