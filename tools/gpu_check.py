"""The GPU check: the unit tests marked `cuda`, then each notebook in the `full` profile, offline, on a GPU.

    python tools/gpu_check.py [--short] [--dry-run] [--notebooks 03 04 ...] [--timeout S] [--out gpu_check.md]

Writes a Markdown table (notebook, status, minutes, peak GPU memory) under a line naming the card, rewritten
after each row, so a run cut short keeps what it measured. Exit status 0 when everything passed.
`--short` is the ten-minute run on an H100: the `cuda` unit tests and chapters 04, 05 and 06 (the ones that
crashed on CUDA before), each notebook cut off after `--timeout` seconds (160 by default there).
`--dry-run` runs the same pipeline on the CPU in the `smoke` profile, notebook 00 by default.

Each notebook runs as the learner opens it (no exercise solutions), from a copy in a temporary folder, in a
fresh kernel importing `helpers` from this checkout. Not staged as `make test` stages them (a wheel installed
outside the repository): that check needs no GPU, and building the wheel would spend the GPU's minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SHORT = ("04", "05", "06")
DRY_RUN = ("00",)
GIB = 2**30
OFFLINE_NOTE = ("Offline (HF_HUB_OFFLINE=1): the packaged all-MiniLM-L6-v2 stands in for bert-base-uncased, "
                "and the reviews shipped with the course for IMDB unless IMDB_DIR points at a copy.")


@dataclass
class Row:
    """One line of the table: what ran, whether it passed (else its first error line), how long, how much."""

    name: str
    status: str
    seconds: float
    peak_bytes: int | None = None

    def markdown(self) -> str:
        peak = "n/a" if self.peak_bytes is None else f"{self.peak_bytes / GIB:.2f}"
        return f"| {self.name} | {self.status.replace('|', '/')} | {self.seconds / 60:.1f} | {peak} |"


def card() -> str:
    """The GPU in one line: name, memory, compute capability, torch and CUDA versions."""
    if not torch.cuda.is_available():
        return f"no GPU (dry run on the CPU), torch {torch.__version__}"
    p = torch.cuda.get_device_properties(0)
    return (f"{p.name}, {p.total_memory / GIB:.1f} GiB, compute capability {p.major}.{p.minor}, "
            f"torch {torch.__version__}, CUDA {torch.version.cuda}")


def select(prefixes: list[str]) -> list[Path]:
    """The notebooks whose names start with these numbers, in order; an unknown number is an error."""
    found = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    unknown = [n for n in prefixes if not any(p.name.startswith(n) for p in found)]
    if unknown:
        sys.exit(f"No notebook numbered {', '.join(unknown)} in {NOTEBOOKS}: "
                 f"choose from {' '.join(p.name[:2] for p in found)}.")
    return [p for p in found if any(p.name.startswith(n) for n in prefixes)]


def environment(profile: str) -> dict[str, str]:
    """This process's environment for a run: the profile, offline, `helpers` from this checkout."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "COURSE_PROFILE": profile, "HF_HUB_OFFLINE": "1", "PYTHONPATH": path,
            "MPLBACKEND": "Agg"}


def unit_tests(paths: list[str]) -> Row:
    """The tests marked `cuda`, in the smoke profile as the unit tests always run."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda", *paths]
    run = subprocess.run(command, cwd=ROOT, env=environment("smoke"), capture_output=True, text=True)
    lines = run.stdout.strip().splitlines() or ["no output"]
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    status = "passed" if run.returncode == 0 else f"failed: {(failed or lines)[0]}"
    return Row("unit tests (-m cuda)", f"{status} ({lines[-1].strip('= ')})", time.perf_counter() - start)


def peak_memory_cell(record: Path) -> nbformat.NotebookNode:
    """A last cell that writes the kernel's peak GPU memory (None without a GPU) to `record`."""
    return nbformat.v4.new_code_cell(
        "import json, torch\n"
        "peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None\n"
        f"with open({str(record)!r}, 'w') as f:\n"
        "    json.dump({'peak_bytes': peak}, f)")


def run_notebook(path: Path, timeout: float, folder: Path) -> Row:
    """Execute a copy of the notebook in a fresh kernel in `folder`, cut off `timeout` s after it starts;
    then, passed or not, read the kernel's peak GPU memory (how far a failed run got matters most)."""
    notebook = nbformat.read(path, as_version=4)
    cells, record = list(notebook.cells), folder / f"{path.stem}.peak.json"
    notebook.cells.append(peak_memory_cell(record))
    start = time.perf_counter()
    left = lambda cell: max(1, int(timeout - (time.perf_counter() - start)))  # noqa: E731
    cut_off = {"ename": "Timeout", "evalue": f"timed out after {timeout:.0f} s", "traceback": []}
    client = NotebookClient(notebook, timeout=int(timeout), timeout_func=left, kernel_name="python3",
                            interrupt_on_timeout=True, error_on_timeout=cut_off,
                            resources={"metadata": {"path": str(folder)}})
    client.reset_execution_trackers()
    try:
        with client.setup_kernel():
            try:
                for index, cell in enumerate(cells):
                    client.execute_cell(cell, index)
                status = "passed"
            except CellExecutionError as error:
                status = (cut_off["evalue"] if error.ename == "Timeout"
                          else f"failed: {error.ename}: {error.evalue}".splitlines()[0])
            seconds = time.perf_counter() - start
            client.timeout_func, client.timeout = None, 60  # the peak's cell gets its own minute
            with contextlib.suppress(CellExecutionError):  # a GPU in an error state may not say
                client.execute_cell(notebook.cells[-1], len(cells))
    except DeadKernelError as error:
        status, seconds = f"kernel died: {error}".splitlines()[0], time.perf_counter() - start
    peak = json.loads(record.read_text())["peak_bytes"] if record.exists() else None
    return Row(path.stem, status, seconds, peak)


def write_table(out: Path, header: str, rows: list[Row]) -> None:
    """The report, replaced whole (never half-written): the card and profile, then one row per run."""
    lines = [header, "", "| notebook | status | minutes | peak GPU memory GiB |", "|---|---|---:|---:|",
             *(row.markdown() for row in rows)]
    partial = out.with_name(out.name + ".partial")
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    partial.replace(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help=f"notebooks {' '.join(SHORT)}, about 10 minutes")
    parser.add_argument("--dry-run", action="store_true", help="on the CPU, smoke profile, notebook 00")
    parser.add_argument("--notebooks", nargs="+", metavar="NN", help="notebook numbers (default: all)")
    parser.add_argument("--timeout", type=float, help="seconds per notebook (default 3600; --short: 160)")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.md"), help="the Markdown report")
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        sys.exit("tools/gpu_check.py needs a CUDA GPU and torch.cuda.is_available() is False here. "
                 "Run it on a GPU machine (Colab: Runtime > Change runtime type > T4 GPU), or with --dry-run "
                 "to check the pipeline on the CPU.")
    profile = "smoke" if args.dry_run else "full"
    chosen = args.notebooks or (DRY_RUN if args.dry_run else SHORT if args.short else [])
    paths = select(list(chosen)) if chosen else sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    timeout = args.timeout or (160 if args.short else 3600)
    tests = [str(ROOT / "tests" / "test_cuda.py")] if args.dry_run else [str(ROOT / "tests")]
    header = f"# GPU check\n\nCard: {card()}\n\nProfile: {profile}. {OFFLINE_NOTE}"
    print(header.replace("# ", "", 1), flush=True)
    rows = [unit_tests(tests)]
    print(rows[-1].markdown(), flush=True)
    write_table(args.out, header, rows)
    os.environ.update(environment(profile))  # the kernels inherit it
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as folder:
        for path in paths:
            rows.append(run_notebook(path, timeout, Path(folder)))
            print(rows[-1].markdown(), flush=True)
            write_table(args.out, header, rows)
    print(f"Wrote {args.out}")
    return 0 if all(row.status.startswith("passed") for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
