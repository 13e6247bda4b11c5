"""Every notebook follows the course spine and points at the one repository URL in pyproject.toml."""

import json
import re
import tomllib
from pathlib import Path

import pytest

from helpers import quiz

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REPOSITORY, VERSION = PROJECT["urls"]["Repository"], PROJECT["version"]


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
    # The release this notebook was written with (tools/release.py), not what the default branch holds later.
    assert f'@ git+{REPOSITORY}@v{VERSION}"' in setup and "google.colab" in setup
    assert "environment.report(" in setup and "config.get_profile()" in setup
    every_url = re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", "".join(map(_source, cells)))
    assert {u.removesuffix(".git") for u in every_url} <= {REPOSITORY}, "a notebook links another repository"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_spine(path):
    markdown = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")
    number = path.name[:2]
    assert re.search(rf"^# {number} · ", markdown, re.M), "title '# NN · ...' first"
    for heading in ("What you will learn", "## 1. ", "## Exercises", "## Quiz", "## Summary",
                    "What comes next"):
        assert heading in markdown, heading


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_shows_its_quiz_questions(path):
    code = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
    for number in quiz.for_chapter(path.stem):
        # quoted: quiz.show("08.1")
        assert f"quiz.show({json.dumps(number)})" in code, f"question {number} belongs to {path.stem}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_installs_only_what_the_chapter_needs(path):
    install = next(line for line in _source(_cells(path)[1]).splitlines() if "%pip install" in line)
    match = re.search(r"pytorch-nlp-course(?:\[([\w,]*)\])? @", install)
    assert match, "install the course by its distribution name from the repository"
    extras = {e for e in (match.group(1) or "").split(",") if e}
    assert "offline" not in extras, "Colab reaches the Hub: it needs no offline model"
    assert "dev" not in extras, "Colab needs no test tools"
    if int(path.name[:2]) < 9:
        assert "deploy" not in extras, "deployment extras belong to chapter 09"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_are_clean(path):
    for index, cell in enumerate(_cells(path)):
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", f"cell {index} stores an error"
            text = json.dumps(output)
            for leak in ("site-packages", "/tmp/", "../shared", "/work/"):
                assert leak not in text, f"cell {index} output shows a local path ({leak})"



def _output_text(cell: dict) -> str:
    return "\n".join("".join(o.get("text") or o.get("data", {}).get("text/plain", ""))
                     for o in cell.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_environment_report_names_the_imdb_the_notebook_loaded(path):
    # Re-running only the first cells in another environment leaves a report that contradicts the load.
    cells = _cells(path)
    report = re.findall(r"imdb source : (.*)", _output_text(cells[1]))
    loads = re.findall(r"^IMDB from (.*)$", "\n".join(map(_output_text, cells)), re.M)
    for load in loads:
        if "IMDB_DIR" in load:
            assert report and "IMDB_DIR" in report[0], f"IMDB came from IMDB_DIR, the report says {report}"
        if "bundled sample" in load:
            assert report and "IMDB_DIR" not in report[0], f"IMDB was the sample, the report says {report}"


def stream_problems(cell: dict) -> list[str]:
    """What a learner trips on in a cell's saved streams: walls of stderr, empty boxes, library warnings."""
    streams = [o for o in cell.get("outputs", []) if o.get("output_type") == "stream"]
    stderr = [o for o in streams if o["name"] == "stderr"]
    problems = []
    if len(stderr) > 2:
        problems.append(f"{len(stderr)} stderr outputs (a progress bar should leave one line)")
    if any(not "".join(o["text"]).strip() for o in streams):
        problems.append("an empty output box")
    for o in stderr:
        text = "".join(o["text"])
        if re.search(r"Warning|^\[\w+\]", text, re.M):
            problems.append(f"a library warning on stderr: {text.strip().splitlines()[0][:120]}")
        if text.count("\n") > 3:
            problems.append("more than three lines of stderr")
    return problems


def test_stream_problems_are_caught():
    bar = {"output_type": "stream", "name": "stderr", "text": ["epoch 1: 100%|####| 9/9\n"]}
    assert stream_problems({"outputs": [bar, bar]}) == []
    assert stream_problems({"outputs": [bar, bar, bar]})
    assert stream_problems({"outputs": [{"output_type": "stream", "name": "stdout", "text": ["  \n"]}]})
    warning = {"output_type": "stream", "name": "stderr", "text": ["x.py:3: FutureWarning: old\n"]}
    assert stream_problems({"outputs": [warning]})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_saved_streams_read_clean(path):
    problems = [f"cell {i}: {p}" for i, c in enumerate(_cells(path)) for p in stream_problems(c)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_colour_only_tables(path):
    code = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "code")
    assert ".style." not in code and ".style\n" not in code, (
        "styled pandas tables lose their colours in untrusted notebooks: use a plot or plain numbers")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_solutions_are_opened_on_purpose(path):
    cells = _cells(path)
    start = next(i for i, c in enumerate(cells)
                 if c["cell_type"] == "markdown" and "## Exercises" in _source(c))
    end = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and "## Quiz" in _source(c))
    exercises = cells[start:end]
    for cell in exercises:
        if cell["cell_type"] == "code":
            assert not re.match(r"\s*#\s*solution", _source(cell), re.I), \
                "a solution in a code cell shows to all"
            assert not cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"), \
                "hidden code still shows"
            assert not cell.get("outputs"), "an exercise cell's saved output gives its answer away"
    markdown = "\n".join(_source(c) for c in exercises if c["cell_type"] == "markdown")
    blocks = re.findall(r"<details>\s*<summary>(.*?)</summary>\s*\n\n(.*?)</details>", markdown, re.S)
    assert len(blocks) >= 2, "each exercise needs its solution in a collapsed <details> block"
    assert markdown.count("<details>") == len(blocks), "<details><summary>..</summary>, a blank line"
    no_code = [summary for summary, body in blocks if not re.search(r"```python\n\s*\S.*?```", body, re.S)]
    assert not no_code, f"the staged test runs only ```python blocks; these solutions have none: {no_code}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_chapter_asks_questions_of_its_own(path):
    own = [n for n in quiz.for_chapter(path.stem) if isinstance(n, str)]
    assert len(own) >= 2, "add a few of the course's own questions (quiz.COURSE_QUESTIONS) for this chapter"


def test_release_sets_the_version_and_every_setup_cells_tag(tmp_path, monkeypatch):
    import importlib.util
    import shutil

    spec = importlib.util.spec_from_file_location("release", ROOT / "tools" / "release.py")
    release = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(release)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    monkeypatch.setattr(release, "ROOT", tmp_path)
    release.set_version("9.8.7")
    assert 'version = "9.8.7"' in (tmp_path / "pyproject.toml").read_text()
    for path in (tmp_path / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        assert f'{REPOSITORY}@v9.8.7"' in _source(_cells(path)[1]), path.name
    with pytest.raises(SystemExit, match="three numbers"):
        release.set_version("v1")
