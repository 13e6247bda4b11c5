import doctest
import json
import os
from pathlib import Path

import pytest

from helpers import storage


def write_model(folder: Path, weights: str = "new") -> None:
    """A stand-in for a model's files: one at the top, one in a subfolder."""
    (folder / "weights.bin").write_text(weights)
    (folder / "tokenizer").mkdir()
    (folder / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\n")


def names(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_doctests():
    assert doctest.testmod(storage).failed == 0


def test_write_file_replaces_the_whole_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "results" / "scores.json"
    storage.write_file(path, '{"a": 1}\n')
    path.chmod(0o640)
    storage.write_file(path, b'{"a": 2}\n')
    assert path.read_text() == '{"a": 2}\n' and path.stat().st_mode & 0o777 == 0o640
    assert names(tmp_path) == ["results", "results/scores.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "scores.json"
    storage.write_file(path, "old")

    def full_disk(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="disk full"):
        storage.write_file(path, "new")
    assert path.read_text() == "old" and names(tmp_path) == ["scores.json"]


def test_replace_folder_records_what_wrote_it_and_every_files_checksum(tmp_path):
    folder = storage.replace_folder(tmp_path / "model", write_model, writer="tests")
    manifest = json.loads((folder / storage.MANIFEST).read_text())
    assert (manifest["written_by"] == "tests"
            and sorted(manifest["files"]) == ["tokenizer/vocab.txt", "weights.bin"])
    assert storage.verify_folder(folder) == manifest
    storage.replace_folder(folder, lambda f: write_model(f, "newer"), writer="tests")
    assert (folder / "weights.bin").read_text() == "newer"
    assert names(tmp_path) == ["model", f"model/{storage.MANIFEST}", "model/tokenizer",
                               "model/tokenizer/vocab.txt",
                               "model/weights.bin"], "no staging or previous folder left"


def test_a_failed_write_keeps_the_old_folder_and_leaves_nothing_beside_it(tmp_path):
    folder = storage.replace_folder(tmp_path / "model", write_model, writer="tests")

    def broken(f: Path) -> None:
        write_model(f, "half")
        raise OSError("disk full")

    for path in (folder, tmp_path / "new"):
        with pytest.raises(OSError, match="disk full"):
            storage.replace_folder(path, broken, writer="tests")
    assert (folder / "weights.bin").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["model"]


@pytest.mark.parametrize("content", [{"thesis.txt": "my thesis"}, {"sub/data.csv": "a,b"}])
def test_a_folder_of_the_users_is_never_replaced(tmp_path, content):
    folder = tmp_path / "out"
    for name, text in content.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    with pytest.raises(storage.RefusedPath, match="holds files the course did not write .*(thesis.txt|sub)"):
        storage.replace_folder(folder, write_model, writer="tests")
    assert all((folder / name).read_text() == text for name, text in content.items())
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_file_the_user_added_to_a_saved_folder_keeps_it_from_being_replaced(tmp_path):
    folder = storage.replace_folder(tmp_path / "model", write_model, writer="tests")
    (folder / "tokenizer" / "notes.md").write_text("why this model")
    with pytest.raises(storage.RefusedPath, match=r"\(tokenizer\)"):
        storage.replace_folder(folder, write_model, writer="tests")
    assert (folder / "tokenizer" / "notes.md").read_text() == "why this model"


def test_an_empty_folder_or_one_an_older_version_wrote_is_replaced(tmp_path):
    (tmp_path / "empty").mkdir()
    storage.replace_folder(tmp_path / "empty", write_model, writer="tests")
    old = tmp_path / "old"
    old.mkdir()
    write_model(old, "old")  # as an older version wrote it: no manifest
    with pytest.raises(storage.RefusedPath, match="did not write"):
        storage.replace_folder(old, write_model, writer="tests")
    storage.replace_folder(old, write_model, writer="tests", legacy=lambda f: (f / "weights.bin").is_file())
    assert (old / "weights.bin").read_text() == "new" and storage.verify_folder(old) is not None


@pytest.mark.parametrize("path, message", [
    ("", "path is empty"),
    ("a_file", "is a file, not a folder"),
    ("a_file/model", "a_file is a file, not a folder"),
    ("/proc/model", "/proc cannot be written to"),
])
def test_a_path_that_cannot_hold_the_folder_is_refused_before_anything_is_written(tmp_path, monkeypatch, path,
                                                                                   message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("keep me")
    for refuse in (storage.check_target, lambda p: storage.replace_folder(p, write_model, writer="tests")):
        with pytest.raises(storage.RefusedPath, match=message):
            refuse(path)
    assert names(tmp_path) == ["a_file"] and (tmp_path / "a_file").read_text() == "keep me"


def cut_off_swap(folder: Path) -> Path:
    """What a replacement killed between its two renames leaves: the old folder beside its place."""
    previous = storage.siblings(folder)[1]
    os.replace(folder, previous)
    return previous


def test_a_swap_cut_off_is_read_where_it_is_and_finished_by_the_next_replacement(tmp_path):
    folder = storage.replace_folder(tmp_path / "model", lambda f: write_model(f, "old"), writer="tests")
    previous = cut_off_swap(folder)
    before = names(tmp_path)
    assert storage.readable_folder(folder) == previous and storage.verify_folder(previous) is not None
    assert names(tmp_path) == before, "reading changes nothing"
    storage.replace_folder(folder, write_model, writer="tests")
    assert (folder / "weights.bin").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_folder_named_like_the_old_one_is_not_the_courses_to_delete(tmp_path):
    folder = storage.replace_folder(tmp_path / "model", write_model, writer="tests")
    previous = storage.siblings(folder)[1]
    previous.mkdir()
    (previous / "mine.txt").write_text("mine")
    storage.recover_folder(folder)
    with pytest.raises(storage.RefusedPath, match=r"\.model\.previous is in the way"):
        storage.replace_folder(folder, write_model, writer="tests")
    assert (previous / "mine.txt").read_text() == "mine" and (folder / "weights.bin").read_text() == "new"


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "weights.bin").write_text("neu"), "weights.bin is damaged or was changed"),
    (lambda f: (f / "tokenizer" / "vocab.txt").unlink(), "vocab.txt is missing"),
    (lambda f: (f / storage.MANIFEST).write_text("{"), f"{storage.MANIFEST} is damaged"),
])
def test_verify_folder_names_the_damaged_file(tmp_path, damage, message):
    folder = storage.replace_folder(tmp_path / "model", write_model, writer="tests")
    damage(folder)
    with pytest.raises(ValueError, match=message):
        storage.verify_folder(folder)


def test_a_folder_without_a_manifest_is_not_verified(tmp_path):
    assert storage.verify_folder(tmp_path) is None


def test_staged_files_move_in_together_or_not_at_all(tmp_path):
    path = tmp_path / "onnx" / "model.onnx"
    with storage.staged_files(path) as staged:
        staged.write_text("graph")
        staged.with_name("model.onnx.data").write_text("weights")
    assert names(tmp_path) == ["onnx", "onnx/model.onnx", "onnx/model.onnx.data"]
    with pytest.raises(RuntimeError, match="export failed"), storage.staged_files(path) as staged:
        staged.write_text("half a graph")
        raise RuntimeError("export failed")
    assert (path.read_text() == "graph"
            and names(tmp_path) == ["onnx", "onnx/model.onnx", "onnx/model.onnx.data"])
    with pytest.raises(storage.RefusedPath, match="is a folder"), storage.staged_files(tmp_path / "onnx"):
        pass


def test_read_json_names_the_damaged_file(tmp_path):
    (tmp_path / "settings.json").write_text('{"temperature": 1.5')
    with pytest.raises(ValueError, match=r"settings.json is damaged: it is not valid JSON"):
        storage.read_json(tmp_path / "settings.json")
