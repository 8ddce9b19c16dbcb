"""The GPU check runs unchanged on a CPU (tiny mode) and leaves BENCHMARKS.md alone with --no-write."""

from __future__ import annotations

from depthdif.benchmarks import gpu_check
from depthdif.benchmarks.report import DEFAULT_PATH


def test_tiny_cpu_mode_measures_every_precision_without_writing(capsys):
    before = DEFAULT_PATH.read_text() if DEFAULT_PATH.exists() else None
    assert gpu_check.main(["--quick", "--no-write", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "| 1 | 32-true |" in printed and "| 1 | bf16-mixed |" in printed and "device: cpu" in printed
    assert (DEFAULT_PATH.read_text() if DEFAULT_PATH.exists() else None) == before


def test_rows_are_relative_to_one_device_in_fp32():
    result = gpu_check.run_check("cpu", quick=True)
    assert [(r["devices"], r["precision"]) for r in result["rows"]] == [(1, "32-true"), (1, "bf16-mixed")]
    assert result["rows"][0]["ratio"] == 1.0 and all(r["samples_per_s"] > 0 for r in result["rows"])
