import subprocess
import sys

import torch

from helpers import environment


def test_report_names_what_a_reader_needs(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    report = environment.report(seed=3)
    for key in ("python", "torch", "transformers", "device", "profile", "imdb source", "hugging face hub"):
        assert key in report
    assert report["profile"].startswith("smoke")
    assert "unreachable" in report["hugging face hub"]
    assert "torch" in capsys.readouterr().out
    assert report["precision"].startswith("fp32 ")  # what training chooses on a CPU


def test_report_says_which_precision_a_gpu_would_train_in(monkeypatch):
    monkeypatch.setattr(environment.config, "get_device", lambda *a, **k: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # a T4
    assert environment.report(seed=None)["precision"].startswith("fp16 ")


def test_versions_name_each_library_or_say_it_is_missing(monkeypatch):
    monkeypatch.setattr(environment, "LIBRARIES", ("torch", "no-such-library-anywhere"))
    found = environment.versions()
    assert found["torch"].startswith("2.") and found["no-such-library-anywhere"] == "not installed"


def test_git_commit_is_a_short_hash_here():
    commit = environment.git_commit()
    assert commit == "unknown" or len(commit.removesuffix("+dirty")) == 12


def test_the_settings_module_does_not_import_the_plumbing():
    code = "import sys, helpers.config; print(sorted(m for m in sys.modules if m.startswith('helpers')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['helpers', 'helpers.config']"
