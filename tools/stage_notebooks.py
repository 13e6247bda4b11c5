"""Stage the notebooks as Colab runs them: outside the repository, against a non-editable install.

    python tools/stage_notebooks.py STAGE_DIR

Writes STAGE_DIR/site (the course package, installed from a built wheel, not the source tree) and
STAGE_DIR/notebooks (a copy of every notebook in which each exercise's solution, kept in a collapsed
<details> block of markdown for the learner, becomes a code cell right after it, so the test run executes it).
A last cell checks that `helpers` was imported from STAGE_DIR/site. `make test` then runs nbval there with
PYTHONPATH=STAGE_DIR/site.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DETAILS = re.compile(r"<details>(.*?)</details>", re.S)
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
_ids = itertools.count(1)


def solutions(markdown: str) -> list[str]:
    """The code of each collapsed solution in a markdown cell (the python blocks inside <details>)."""
    return ["\n".join(PYTHON_BLOCK.findall(block)).strip() for block in DETAILS.findall(markdown)
            if PYTHON_BLOCK.search(block)]


def code_cell(source: str, tag: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": f"{tag}-{next(_ids)}",
            "metadata": {"tags": [tag]}, "outputs": [], "source": source}


def with_solutions(notebook: dict, site: Path) -> dict:
    """A copy of the notebook with every solution as a code cell after its markdown, and the import check."""
    cells = []
    for cell in notebook["cells"]:
        cells.append(cell)
        if cell["cell_type"] == "markdown":
            cells += [code_cell(code, "solution") for code in solutions("".join(cell["source"]))]
    check = (f"import helpers, pathlib\n"
             f"assert pathlib.Path(helpers.__file__).resolve().is_relative_to({str(site.resolve())!r}), "
             f"helpers.__file__")
    return {**notebook, "cells": cells + [code_cell(check, "installed-package-check")]}


def install(site: Path) -> None:
    """Build a wheel of the course and install it, without dependencies, into `site`."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(ROOT)], check=True)


def main(stage: Path) -> None:
    site, notebooks = stage / "site", stage / "notebooks"
    install(site)
    notebooks.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        staged = with_solutions(json.loads(path.read_text(encoding="utf-8")), site)
        (notebooks / path.name).write_text(json.dumps(staged, indent=1), encoding="utf-8")
    print(f"Staged {len(list(notebooks.glob('*.ipynb')))} notebooks in {notebooks}, package in {site}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
