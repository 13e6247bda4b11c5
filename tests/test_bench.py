import doctest
import json
import multiprocessing
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import bench, config, deploy, results

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def spy_benchmark():
    seen = {}

    def fake(train, val, test, profile):
        seen.update(train=set(train["text"]), val=set(val["text"]), test=set(test["text"]),
                    profile=profile.name)
        return {"test_accuracy": 0.5, "val_accuracy": 0.75, "train_seconds": 1.0}

    bench.register("spy", "records what it is given")(fake)
    yield seen
    del bench.REGISTRY["spy"]


@pytest.fixture
def own_data_benchmark():
    def sweep(profile, seed):
        return [{"variant": v, "seconds": 0.5 * (i + 1), "peak_bytes": 2**20 * (i + 1)}
                for i, v in enumerate("ab")]

    bench.register("sweep", "a benchmark with its own data", imdb=False, key=("variant",),
                   columns=("variant", "seconds", "peak_bytes"))(sweep)
    yield
    del bench.REGISTRY["sweep"]


def test_course_benchmarks_are_registered():
    assert {"tfidf_logreg", "nbow_bigram", "bilstm", "deploy", "finetune_pretrained"} <= set(bench.REGISTRY)


def test_selection_data_never_includes_test(spy_benchmark):
    [row] = bench.run("spy", profile_name="smoke")
    assert spy_benchmark["profile"] == "smoke"
    assert not spy_benchmark["train"] & spy_benchmark["test"]
    assert not spy_benchmark["val"] & spy_benchmark["test"]
    assert not spy_benchmark["train"] & spy_benchmark["val"]
    assert row["n_train"] == len(spy_benchmark["train"]) and row["n_test"] == len(spy_benchmark["test"])


def test_rows_carry_what_reproduces_them(spy_benchmark):
    [row] = bench.run("spy", profile_name="smoke", seed=7)
    assert (row["seed"] == 7 and row["profile"] == "smoke"
            and re.fullmatch(r"[0-9a-f]{12}", row["data_fingerprint"]))
    assert row["versions"]["torch"].startswith("2.") and row["commit"] and row["machine"] and row["date"]
    [again] = bench.run("spy", profile_name="smoke", seed=7)
    assert again["data_fingerprint"] == row["data_fingerprint"]
    [other] = bench.run("spy", profile_name="smoke", seed=8)
    assert other["data_fingerprint"] != row["data_fingerprint"], "another seed draws other smoke reviews"


def test_the_same_data_from_two_sources_is_one_row(spy_benchmark, tmp_path, monkeypatch):
    [row] = bench.run("spy", profile_name="smoke")
    relabelled = dict(row, data="local folder (parquet, from IMDB_DIR)")
    recorded = results.record([row], tmp_path / "r.json")
    recorded = results.record([relabelled], tmp_path / "r.json")
    assert len(recorded) == 1


def test_a_new_run_replaces_every_row_of_the_last_one_even_under_new_keys(spy_benchmark, tmp_path):
    [row] = bench.run("spy", profile_name="smoke")
    old = [dict(row, key=["variant"], variant=v) for v in ("a", "b")]  # an earlier run, keyed by variant
    other = dict(row, benchmark="other", key=["variant"], variant="a")  # another benchmark's row
    results.record(old + [other], tmp_path / "r.json")
    new = [dict(row, key=["variant", "threads"], variant="a", threads=t) for t in (1, 2)]
    recorded = results.record(new, tmp_path / "r.json")
    mine = [r for r in recorded.values() if r["benchmark"] == "spy"]
    assert sorted(r.get("threads") for r in mine) == [1, 2], "the old run's rows are gone"
    assert any(r["benchmark"] == "other" for r in recorded.values())


@pytest.fixture
def imdb_folder(tmp_path):
    """A parquet IMDB folder of reviews found nowhere else."""
    for split, n in (("train", 40), ("test", 10)):
        texts = [f"{split} review {i}: {'a delight' if i % 2 else 'a chore'}" for i in range(n)]
        pq.write_table(pa.table({"text": texts, "label": [i % 2 for i in range(n)]}),
                       tmp_path / f"{split}.parquet")
    return tmp_path


def test_deploy_measures_the_imdb_folder_it_is_given(imdb_folder, monkeypatch):
    class Seen(Exception):
        pass

    def stop(train, val, test, profile, *args, **kwargs):
        raise Seen({*train["text"], *val["text"], *test["text"]})

    monkeypatch.setattr(deploy, "model_to_deploy", stop)  # what the model is trained and measured on
    with pytest.raises(Seen) as seen:
        bench.main(["deploy", "--profile", "smoke", "--imdb", str(imdb_folder)])
    [texts] = seen.value.args
    assert texts and all(t.startswith(("train review", "test review")) for t in texts)


def test_own_data_benchmarks_refuse_an_imdb_folder_rather_than_ignore_it(own_data_benchmark, imdb_folder,
                                                                           capsys):
    with pytest.raises(ValueError, match="own data"):
        bench.run("sweep", imdb=str(imdb_folder), profile_name="smoke")
    # --all passes it to every benchmark
    bench.main(["sweep", "--profile", "smoke", "--imdb", str(imdb_folder)])
    assert "sweep brings its own data: it does not read --imdb" in capsys.readouterr().err


def test_rows_carry_what_their_table_needs(own_data_benchmark, spy_benchmark):
    [row] = bench.run("spy", profile_name="smoke")
    assert row["table"] == results.IMDB_TABLE and row["description"] == "records what it is given"
    sweep = bench.run("sweep", profile_name="smoke")[0]
    assert (sweep["table"], sweep["key"], sweep["columns"]) == ("sweep", ["variant"], ["variant", "seconds",
                                                                                         "peak_bytes"])


def test_rows_without_their_table_stamps_are_refused(tmp_path):
    with pytest.raises(ValueError, match="lacks table, description, key"):
        results.record([{"benchmark": "hand-made", "profile": "cpu", "test_accuracy": 0.9}],
                       tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_tfidf_baseline_runs_end_to_end_on_the_sample(capsys):
    bench.main(["tfidf_logreg", "--profile", "smoke"])
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["model"] == "tfidf_logreg" and 0.5 < row["test_accuracy"] <= 1.0


def test_results_refresh_the_readme_table(tmp_path, spy_benchmark):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.TABLE_START}\nold\n{results.TABLE_END}\noutro\n")
    recorded = tmp_path / "results.json"
    bench.main(["spy", "--profile", "smoke", "--record", str(recorded), "--readme", str(readme)])
    bench.main(["spy", "--profile", "smoke", "--record", str(recorded), "--readme", str(readme)])
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert text.count("| `spy` |") == 1, "a rerun replaces its row"
    assert "**50.0%**" in text
    assert "| records what it is given |" in text, "the row carries its description into the table"
    assert len(json.loads(recorded.read_text())) == 1
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_readme_alone_rewrites_the_tables_without_running_anything(tmp_path, monkeypatch):
    readme = tmp_path / "RESULTS.md"
    readme.write_text(f"intro\n{results.TABLE_START}\nold\n{results.TABLE_END}\noutro\n")
    monkeypatch.setattr(bench, "run", lambda *a, **k: pytest.fail("ran a benchmark to rewrite tables"))
    bench.main(["--readme", str(readme)])
    assert results.readme_section(readme.read_text()) == results.markdown_tables(results.load_results())


def test_benchmarks_with_their_own_data_get_their_own_table(tmp_path, own_data_benchmark):
    rows = bench.run("sweep", profile_name="smoke")
    assert [r["variant"] for r in rows] == ["a", "b"] and "n_val" not in rows[0]
    tables = results.markdown_tables(results.record(rows, tmp_path / "r.json"))
    assert "**`sweep`**: a benchmark with its own data (measured in the smoke profile on " in tables
    assert "| variant | time | peak memory |" in tables, "one profile and machine: said once, above the table"
    assert "| a | 500 ms | 1.0 MB |" in tables and "| b | 1.00 s | 2.1 MB |" in tables


def test_results_examples():
    assert doctest.testmod(results).failed == 0


def test_table_cells_read_like_the_prose():
    assert ([results.cell("train_seconds", s) for s in (1729.78, 793.3, 2.345)]
            == ["1,730 s", "793 s", "2.35 s"])
    assert results.cell("test_accuracy", 0.9006) == "90.1%" and results.cell("n_train", 22500) == "22,500"
    assert [results.cell("seconds", s) for s in (0.0042, 0.357, 0.0)] == ["4.2 ms", "357 ms", "0 s"]
    assert results.cell("size_bytes", 90_299_223) == "90.3 MB", "sizes in MB, as chapter 09 prints them"
    assert results.cell("throughput_ratio_vs_eager", 1.588) == "1.59×"
    assert results.cell("accuracy_delta_points", -1.667) == "-1.7 points"


def _attention_row(pattern: str, seq_len: int, machine: str = "m") -> dict:
    return {"benchmark": "long_attention", "model": "long_attention", "profile": "cpu", "machine": machine,
            "date": "d", "table": "long_attention", "description": "one call", "key": ["pattern", "seq_len"],
            "columns": ["pattern", "seq_len", "keys_per_query", "seconds", "peak_bytes"], "pattern": pattern,
            "seq_len": seq_len, "keys_per_query": seq_len if pattern == "full" else 258,
            "seconds": seq_len / 1e5, "peak_bytes": seq_len * 1000}


def test_the_attention_sweep_is_one_row_per_pattern_with_a_value_per_length():
    recorded = {str(i): _attention_row(p, n) for i, (p, n) in
                enumerate([(p, n) for p in ("full", "sliding_window") for n in (2048, 1024)])}
    [table] = results.tables(recorded)
    assert [c.header for c in table.columns] == ["pattern", "keys per query", "time at 1,024 / 2,048 tokens",
                                                 "peak memory at 1,024 / 2,048 tokens"]
    assert results.text_rows(table) == [["full", "1,024 / 2,048", "10 ms / 20 ms", "1.0 MB / 2.0 MB"],
                                        ["sliding_window", "258", "10 ms / 20 ms", "1.0 MB / 2.0 MB"]]


def test_rows_from_different_machines_keep_their_machine_column():
    recorded = {"a": _attention_row("full", 1024), "b": _attention_row("full", 2048, machine="other")}
    recorded = {k: r | {"key": ["pattern", "seq_len", "machine"]} for k, r in recorded.items()}
    [table] = results.tables(recorded)
    assert table.where == "" and [c.header for c in table.columns][-2:] == ["profile", "machine"]
    assert "measured in" not in results.markdown_tables(recorded)


def test_own_data_benchmarks_must_name_their_columns():
    with pytest.raises(ValueError, match="columns"):
        bench.register("nameless", "no columns", imdb=False)


def test_readme_without_markers_is_refused_before_anything_runs(tmp_path, spy_benchmark, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("no table here\n")
    monkeypatch.setattr(bench, "run",
                        lambda *a, **k: pytest.fail("ran a benchmark for a README it cannot update"))
    with pytest.raises(SystemExit, match="markers"):
        bench.main(["spy", "--profile", "smoke", "--record", str(tmp_path / "r.json"),
                    "--readme", str(readme)])
    assert readme.read_text() == "no table here\n" and not (tmp_path / "r.json").exists()


def test_unknown_benchmarks_are_rejected_before_anything_runs(monkeypatch, spy_benchmark):
    monkeypatch.setattr(bench, "run",
                        lambda *a, **k: pytest.fail("ran a benchmark before checking the names"))
    with pytest.raises(SystemExit, match="'gpt5'.*tfidf_logreg"):
        bench.main(["spy", "gpt5", "--profile", "smoke"])


@pytest.mark.slow
def test_the_command_line_sees_the_chapters_benchmarks():
    result = subprocess.run([sys.executable, "-m", "helpers.bench", "no_such_benchmark"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "tfidf_logreg" in result.stderr, result.stderr[-500:]


def _record_many(path: str, worker: int) -> None:
    for i in range(20):
        row = {"benchmark": f"w{worker}", "model": f"w{worker}", "profile": "smoke", "n": i,
               "table": f"w{worker}", "description": "a worker", "key": [], "columns": ["n"]}
        results.record([row], Path(path))


def test_concurrent_recorders_lose_no_rows_and_leave_valid_json(tmp_path):
    path = tmp_path / "results.json"
    workers = [multiprocessing.Process(target=_record_many, args=(str(path), w)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert all(w.exitcode == 0 for w in workers)
    recorded = json.loads(path.read_text())
    assert sorted(r["model"] for r in recorded.values()) == ["w0", "w1", "w2", "w3"]
    assert all(r["n"] == 19 for r in recorded.values())


def test_the_readme_tables_are_exactly_those_built_from_the_results():
    recorded = results.load_results(results.RESULTS)
    assert results.readme_section((ROOT / "RESULTS.md").read_text()) == results.markdown_tables(recorded)


def test_deploy_measures_enough_reviews_on_one_and_two_threads(imdb_folder, monkeypatch):
    asked = {}

    def model_to_deploy(train, val, test, profile, *args, **kwargs):
        asked["n_test"] = profile.deploy_n_test
        return "model", test.select(range(3))

    def compare(model, found, texts, labels, n_latency, threads):
        return [{"variant": name, "threads_seen": threads} for name in found]

    monkeypatch.setattr(deploy, "model_to_deploy", model_to_deploy)
    monkeypatch.setattr(deploy, "variants", lambda model, folder, threads, compile: ["eager", "int8"])
    monkeypatch.setattr(deploy, "compare", compare)
    rows = bench.run("deploy", imdb=str(imdb_folder), profile_name="smoke")
    profile = config.get_profile("smoke")
    assert asked["n_test"] == profile.deploy_bench_n_test != profile.deploy_n_test
    measured = [(r["variant"], r["threads"]) for r in rows]
    assert measured == [("eager", 1), ("int8", 1), ("eager", 2), ("int8", 2)]
    assert all(r["threads"] == r["threads_seen"] for r in rows), "each thread count is measured as labelled"


def test_a_rate_recorded_with_its_interval_shows_both_in_one_cell():
    row = {"table": "deploy", "model": "deploy", "variant": "torch int8", "label_agreement": 0.969,
           "label_agreement_interval": [0.956, 0.978], "machine": "m", "date": "d", "profile": "cpu"}
    shown = results._shown(row)
    assert results.cell("label_agreement", shown["label_agreement"]) == "96.9% [95.6, 97.8]"
    assert results.cell("label_agreement", 0.969) == "96.9%"
