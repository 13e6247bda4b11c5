"""Every way to install the course names things that exist: extras, the license, the Colab constraints."""

import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = set(PROJECT["optional-dependencies"])
# An install with extras: `.[a,b]`, `-e .[a,b]`, `pytorch-nlp-course[a,b]`, make's `EXTRAS := a,b`.
EXTRA_LISTS = re.compile(r"(?:pytorch-nlp-course|(?<![\w/])\.)\[([\w,\s-]+)\]"
                         r"|^EXTRAS\s*:?=\s*([\w,-]+)", re.M)


def named_extras(text: str) -> set[str]:
    """The extras an install line in `text` asks for.

    >>> sorted(named_extras('pip install -e ".[viz,dev]" and pytorch-nlp-course[train] @ git+...'))
    ['dev', 'train', 'viz']
    """
    return {extra.strip() for match in EXTRA_LISTS.finditer(text)
            for extra in (match.group(1) or match.group(2)).split(",") if extra.strip()}


def test_named_extras_reads_each_way_of_writing_an_install():
    assert named_extras("EXTRAS := offline,dev\n") == {"offline", "dev"}
    assert named_extras("      - -e .[offline,extras,dev]\n") == {"offline", "extras", "dev"}
    assert named_extras("see helpers/x.py[3]") == set()


def _notebook_sources() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        found.append((path.name, "\n".join("".join(c["source"]) for c in cells)))
    return found


PLACES = [(name, (ROOT / name).read_text()) for name in
          ("README.md", "CONTRIBUTING.md", "Makefile", "environment.yml", ".ci/run")] + _notebook_sources()


@pytest.mark.parametrize("name,text", PLACES, ids=[name for name, _ in PLACES])
def test_every_extra_named_anywhere_exists(name, text):
    unknown = named_extras(text) - EXTRAS
    assert not unknown, f"{name} installs extras {sorted(unknown)}; pyproject.toml has {sorted(EXTRAS)}"


def test_the_license_file_matches_pyproject():
    assert PROJECT["license"]["text"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_colab_constraints_pin_only_what_the_course_installs():
    pinned = {line.split("==")[0].lower().replace("_", "-") for line in
              (ROOT / "colab-constraints.txt").read_text().splitlines() if line and not line.startswith("#")}
    required = {re.split(r"[<>=!\[ ]", d)[0].lower().replace("_", "-") for d in PROJECT["dependencies"]}
    extras = {re.split(r"[<>=!\[ ]", d)[0].lower().replace("_", "-")
              for deps in PROJECT["optional-dependencies"].values() for d in deps}
    kernel = {"ipython", "ipykernel"}  # what Colab runs the notebooks in
    assert pinned <= required | extras | kernel, sorted(pinned - required - extras - kernel)
    assert "torch" not in pinned, "Colab's torch is kept as it is: the course never replaces it"
