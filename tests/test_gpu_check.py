"""tools/gpu_check.py: refuses without a GPU, and its dry run on the CPU writes the table a GPU run writes."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu_check.py"


def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = sys.modules["gpu_check"] = importlib.util.module_from_spec(spec)  # its dataclass looks it up
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="refuses only where there is no GPU")
def test_it_refuses_clearly_without_cuda(tmp_path):
    with pytest.raises(SystemExit, match="needs a CUDA GPU.*--dry-run"):
        gpu_check().main(["--short", "--out", str(tmp_path / "gpu.md")])
    assert not (tmp_path / "gpu.md").exists()


def test_an_unknown_notebook_number_is_named():
    with pytest.raises(SystemExit, match="No notebook numbered 42.*choose from 00 01"):
        gpu_check().select(["04", "42"])


@pytest.mark.slow
def test_the_dry_run_writes_the_table(tmp_path):
    out = tmp_path / "gpu.md"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out", str(out)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = out.read_text().splitlines()
    assert "Card: no GPU (dry run on the CPU)" in lines[2]
    assert "Profile: smoke" in lines[4] and "MiniLM-L6-v2 stands in for bert-base-uncased" in lines[4]
    assert lines[6] == "| notebook | status | minutes | peak GPU memory GiB |"
    rows = [line.split(" | ") for line in lines[8:]]
    assert [row[0] for row in rows] == ["| unit tests (-m cuda)", "| 00_getting_started"]
    assert rows[0][1].startswith("passed (4 skipped") and rows[1][1] == "passed"
    assert all(row[3] == "n/a |" and float(row[2]) >= 0 for row in rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu.md"]  # nothing half-written left behind


@pytest.mark.slow
@pytest.mark.parametrize("source, status", [("raise ValueError('boom\\nmore')", "failed: ValueError: boom"),
                                            ("import time\ntime.sleep(60)", "timed out after 3 s")])
def test_a_failed_or_cut_off_notebook_gives_its_first_error_line_and_still_its_peak(tmp_path, source, status):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nbformat.write(notebook, tmp_path / "99_broken.ipynb")
    row = gpu_check().run_notebook(tmp_path / "99_broken.ipynb", timeout=3, folder=tmp_path)
    assert row.status == status
    assert (tmp_path / "99_broken.peak.json").exists()  # the peak's cell ran after the failure
