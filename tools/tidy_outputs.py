"""Make saved notebook outputs read as a terminal would show them, in every viewer.

    python tools/tidy_outputs.py notebooks/03_rnn_lstm_gru.ipynb [more.ipynb]

A progress bar redraws itself with carriage returns; executed headless, each redraw is saved as an output of
its own, and GitHub, Colab and the HTML export then show a wall of lines. This merges consecutive outputs of
the same stream, keeps what a terminal would finally show on each line (a bar's last state), drops outputs
left blank (a bar that cleared itself) and the per-cell execution timestamps. Run by `make notebooks`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def render_line(line: str) -> str:
    """What a terminal shows for one line written with carriage returns.

    >>> render_line("10%|#   \\r100%|####")
    '100%|####'
    >>> render_line("abcdef\\rXY")
    'XYcdef'
    """
    shown = ""
    for part in line.split("\r"):
        shown = part + shown[len(part):]
    return shown


def render(text: str) -> str:
    """Every line as a terminal would finally show it, trailing blanks removed.

    >>> render("\\rbar 1/2\\rbar 2/2\\n\\r          \\r")
    'bar 2/2\\n'
    """
    lines = [render_line(line).rstrip() for line in text.split("\n")]
    kept = "\n".join(lines).rstrip("\n ")
    return kept + "\n" if kept else ""


def tidy_outputs(outputs: list[dict]) -> list[dict]:
    """Merge runs of the same stream, render carriage returns, drop blank stream outputs."""
    merged: list[dict] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.get("output_type") == "stream" and previous and previous.get("output_type") == "stream"
                and previous["name"] == output["name"]):
            previous["text"] = "".join(previous["text"]) + "".join(output["text"])
        else:
            merged.append(dict(output))
    tidy = []
    for output in merged:
        if output.get("output_type") == "stream":
            text = render("".join(output["text"]))
            if not text:
                continue
            output["text"] = text.splitlines(keepends=True)
        tidy.append(output)
    return tidy


def tidy_notebook(path: Path) -> None:
    """Tidy every code cell's outputs in place (written through a temporary file, then renamed)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = tidy_outputs(cell.get("outputs", []))
            cell.get("metadata", {}).pop("execution", None)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    tmp.replace(path)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for name in sys.argv[1:]:
        tidy_notebook(Path(name))
