import json
import multiprocessing
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import bench

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def spy_benchmark():
    seen = {}

    def fake(train, val, test, profile):
        seen.update(train=set(train["text"]), val=set(val["text"]), test=set(test["text"]), profile=profile.name)
        return {"test_accuracy": 0.5, "val_accuracy": 0.75, "train_seconds": 1.0}

    bench.register("spy", "records what it is given")(fake)
    yield seen
    del bench.REGISTRY["spy"]


@pytest.fixture
def own_data_benchmark():
    def sweep(profile, seed):
        return [{"variant": v, "seconds": 0.5 * (i + 1), "peak_bytes": 2**20 * (i + 1)} for i, v in enumerate("ab")]

    bench.register("sweep", "a benchmark with its own data", imdb=False, key=("variant",),
                   columns=("variant", "seconds", "peak_bytes"))(sweep)
    yield
    del bench.REGISTRY["sweep"]


def test_course_benchmarks_are_registered():
    bench._load_benchmarks()
    assert {"tfidf_logreg", "nbow_bigram", "bilstm"} <= set(bench.REGISTRY)


def test_selection_data_never_includes_test(spy_benchmark):
    [row] = bench.run("spy", profile_name="smoke")
    assert spy_benchmark["profile"] == "smoke"
    assert not spy_benchmark["train"] & spy_benchmark["test"]
    assert not spy_benchmark["val"] & spy_benchmark["test"]
    assert not spy_benchmark["train"] & spy_benchmark["val"]
    assert row["n_train"] == len(spy_benchmark["train"]) and row["n_test"] == len(spy_benchmark["test"])


def test_rows_carry_what_reproduces_them(spy_benchmark):
    [row] = bench.run("spy", profile_name="smoke", seed=7)
    assert row["seed"] == 7 and row["profile"] == "smoke" and re.fullmatch(r"[0-9a-f]{12}", row["data_fingerprint"])
    assert row["versions"]["torch"].startswith("2.") and row["commit"] and row["machine"] and row["date"]
    [again] = bench.run("spy", profile_name="smoke", seed=7)
    assert again["data_fingerprint"] == row["data_fingerprint"]
    [other] = bench.run("spy", profile_name="smoke", seed=8)
    assert other["data_fingerprint"] != row["data_fingerprint"], "another seed draws other smoke reviews"


def test_the_same_data_from_two_sources_is_one_row(spy_benchmark, tmp_path, monkeypatch):
    [row] = bench.run("spy", profile_name="smoke")
    relabelled = dict(row, data="local folder (parquet, from IMDB_DIR)")
    results = bench.record([row], tmp_path / "r.json")
    results = bench.record([relabelled], tmp_path / "r.json")
    assert len(results) == 1


def test_tfidf_baseline_runs_end_to_end_on_the_sample(capsys):
    bench.main(["tfidf_logreg", "--profile", "smoke"])
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["model"] == "tfidf_logreg" and 0.5 < row["test_accuracy"] <= 1.0


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
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_benchmarks_with_their_own_data_get_their_own_table(tmp_path, own_data_benchmark):
    rows = bench.run("sweep", profile_name="smoke")
    assert [r["variant"] for r in rows] == ["a", "b"] and "n_val" not in rows[0]
    tables = bench.markdown_tables(bench.record(rows, tmp_path / "r.json"))
    assert "**`sweep`**" in tables and "| variant | seconds | peak bytes | profile | machine |" in tables
    assert "| a | 0.50 s | 1.0 MiB | smoke |" in tables and "| b | 1.00 s | 2.0 MiB | smoke |" in tables


def test_table_cells_read_like_the_prose():
    assert [bench._cell("train_seconds", s) for s in (1729.78, 793.3, 2.345)] == ["1,730 s", "793 s", "2.35 s"]
    assert bench._cell("test_accuracy", 0.9006) == "90.1%" and bench._cell("n_train", 22500) == "22,500"


def test_own_data_benchmarks_must_name_their_columns():
    with pytest.raises(ValueError, match="columns"):
        bench.register("nameless", "no columns", imdb=False)


def test_readme_without_markers_is_refused_before_anything_runs(tmp_path, spy_benchmark, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("no table here\n")
    monkeypatch.setattr(bench, "run", lambda *a, **k: pytest.fail("ran a benchmark for a README it cannot update"))
    with pytest.raises(SystemExit, match="markers"):
        bench.main(["spy", "--profile", "smoke", "--record", str(tmp_path / "r.json"), "--readme", str(readme)])
    assert readme.read_text() == "no table here\n" and not (tmp_path / "r.json").exists()


def test_unknown_benchmarks_are_rejected_before_anything_runs(monkeypatch, spy_benchmark):
    monkeypatch.setattr(bench, "run", lambda *a, **k: pytest.fail("ran a benchmark before checking the names"))
    with pytest.raises(SystemExit, match="'gpt5'.*tfidf_logreg"):
        bench.main(["spy", "gpt5", "--profile", "smoke"])


@pytest.mark.slow
def test_the_command_line_sees_the_chapters_benchmarks():
    result = subprocess.run([sys.executable, "-m", "helpers.bench", "no_such_benchmark"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "tfidf_logreg" in result.stderr, result.stderr[-500:]


def _record_many(path: str, worker: int) -> None:
    for i in range(20):
        bench.record([{"benchmark": f"w{worker}", "model": f"w{worker}", "profile": "smoke", "n": i}], Path(path))


def test_concurrent_recorders_lose_no_rows_and_leave_valid_json(tmp_path):
    path = tmp_path / "results.json"
    workers = [multiprocessing.Process(target=_record_many, args=(str(path), w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert all(w.exitcode == 0 for w in workers)
    results = json.loads(path.read_text())
    assert sorted(r["model"] for r in results.values()) == ["w0", "w1", "w2", "w3"]
    assert all(r["n"] == 19 for r in results.values())


def test_the_readme_tables_are_exactly_those_built_from_the_results():
    results = bench.load_results(bench.RESULTS)
    assert bench.readme_section((ROOT / "README.md").read_text()) == bench.markdown_tables(results)
