"""The command line as a user meets it (issue 14): --dry-run and --print-config start nothing,
"did you mean" on a mistyped subcommand or config key, and help texts with an example each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from depthdif.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "study"))
from _study_helpers import write_study  # noqa: E402


def _subcommands(parser, prefix=()):
    """Every (sub)command path of the parser: ("study", "run"), ("train", "pixel"), ..."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _subcommands(sub, (*prefix, name))


def test_dry_run_starts_no_ray_and_trains_nothing(tmp_path, tiny_store):
    """In a fresh process: `study run --dry-run` and `train --dry-run` never import Ray."""
    study = write_study(tmp_path, tiny_store, name="dry")
    code = (f"import sys; from depthdif.cli import main\n"
            f"assert main(['study', 'run', {str(study)!r}, '--dry-run']) == 0\n"
            f"assert main(['train', 'pixel', '--store', {str(tiny_store)!r}, '--storage', {str(tmp_path / 'runs')!r},"
            f" '--workers', '2', '--dry-run']) == 0\n"
            f"assert 'ray' not in sys.modules, 'Ray was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "would start a new study" in done.stdout and "nothing was started (--dry-run)" in done.stdout
    assert "would train on Ray Train: 2 worker(s)" in done.stdout and "starts from scratch" in done.stdout
    assert not (tmp_path / "studies" / "dry").exists() and not (tmp_path / "runs").exists()


def test_print_config_prints_the_resolved_config(tmp_path, tiny_store, capsys):
    study = write_study(tmp_path, tiny_store, name="cfg")
    assert main(["study", "run", str(study), "--print-config", "--set", "trials=5"]) == 0
    spec = yaml.safe_load(capsys.readouterr().out)
    assert spec["trials"] == 5 and spec["experiment"]["data"]["store"] == str(tiny_store)
    assert main(["train", "ae", "--set", "ae.latent_channels=3", "--print-config"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["ae"]["latent_channels"] == 3
    assert not (tmp_path / "studies").exists()


def test_did_you_mean_for_subcommands_and_keys(capsys):
    with pytest.raises(SystemExit):
        main(["stuy", "list", "x"])
    assert "did you mean 'study'?" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["study", "reprot", "x"])
    assert "did you mean 'report'" in capsys.readouterr().err
    assert main(["train", "pixel", "--set", "training.lrr=0.1", "--dry-run"]) == 2
    assert "did you mean 'lr'?" in capsys.readouterr().err


def test_every_command_has_a_description_and_an_example():
    parser = build_parser()
    for path in _subcommands(parser):
        sub = parser
        for name in path:
            sub = next(a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction").choices[name]
        text = sub.format_help()
        assert "examples:\n  depthdif " in text, path
        assert ".py" not in text and "lazily" not in text, path  # no developer notes in user help
        undocumented = [a.dest for a in sub._actions if a.help is None and a.dest != "help"
                        and a.__class__.__name__ != "_SubParsersAction"]
        assert not undocumented, (path, undocumented)
