"""Prepare a release: the version in pyproject.toml and the tag every notebook's setup cell installs.

    python tools/release.py 0.3.0

Then commit, `git tag v0.3.0`, and push the commit and the tag: a notebook saved from this release keeps
installing the helpers it was written with (tests/test_notebooks.py checks that the two agree).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = re.compile(r'^version = "[^"]+"$', re.M)
INSTALL = re.compile(r'(git\+https://github\.com/[\w.-]+/[\w.-]+?)(@v[\w.]+)?"')


def set_version(version: str) -> None:
    """Write `version` into pyproject.toml and `@v{version}` into each notebook's install line."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        sys.exit(f"A release version is three numbers, e.g. 0.3.0; got {version!r}.")
    pyproject = ROOT / "pyproject.toml"
    pyproject.write_text(VERSION.sub(f'version = "{version}"', pyproject.read_text()))
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        setup = notebook["cells"][1]
        setup["source"] = [INSTALL.sub(rf'\1@v{version}"', line) for line in setup["source"]]
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"pyproject.toml and {len(list((ROOT / 'notebooks').glob('[0-9][0-9]_*.ipynb')))} setup cells "
          f"now name {version}: commit, then `git tag v{version}` and push both.")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    set_version(sys.argv[1])
