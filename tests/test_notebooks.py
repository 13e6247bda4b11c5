"""Every notebook follows the course spine and points at the one repository URL in pyproject.toml."""

import json
import re
import tomllib
from pathlib import Path

import pytest

from helpers import quiz

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS][:1] == ["00_getting_started.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_badge_and_install_use_the_repository_url(path):
    cells = _cells(path)
    owner_repo = REPOSITORY.removeprefix("https://github.com/")
    badge = f"https://colab.research.google.com/github/{owner_repo}/blob/main/notebooks/{path.name}"
    assert badge in _source(cells[0]), "the first cell needs the Colab badge for this notebook"
    setup = _source(cells[1])
    assert f"@ git+{REPOSITORY}" in setup and "google.colab" in setup
    assert "config.environment_report(" in setup and "config.get_profile()" in setup
    every_url = re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", "".join(map(_source, cells)))
    assert {u.removesuffix(".git") for u in every_url} <= {REPOSITORY}, "a notebook links another repository"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_spine(path):
    markdown = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")
    number = path.name[:2]
    assert re.search(rf"^# {number} · ", markdown, re.M), "title '# NN · ...' first"
    for heading in ("What you will learn", "## 1. ", "## Exercises", "## Quiz", "## Summary", "What comes next"):
        assert heading in markdown, heading


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shows_its_quiz_questions(path):
    code = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
    for number in quiz.for_chapter(path.stem):
        assert f"quiz.show({number})" in code, f"question {number} belongs to {path.stem}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_are_clean(path):
    for index, cell in enumerate(_cells(path)):
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", f"cell {index} stores an error"
            text = json.dumps(output)
            for leak in ("site-packages", "/tmp/", "../shared", "/work/"):
                assert leak not in text, f"cell {index} output shows a local path ({leak})"
