"""The live status line: counts of the budget, ETA, best per objective with units, hypervolume;
redrawn in place on a terminal, plain lines (at milestones only) in a log."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from depthdif.study.live_status import LiveLine, duration_text, live_status, status_line
from depthdif.study.spec import Objective

OBJECTIVES = [Objective("val/rmse_withheld", "minimize"), Objective("cost/train_seconds", "minimize")]


def _table() -> pd.DataFrame:
    rows = [("COMPLETE", 1.0, 20.0), ("COMPLETE", 2.0, 10.0), ("COMPLETE", 3.0, 30.0),  # #2 dominated
            ("FAILED", None, None), ("PRUNED", 0.5, 5.0), ("RUNNING", None, None)]
    return pd.DataFrame([{"trial_id": f"t{i}", "trial_number": i, "state": s, "objective/val/rmse_withheld": r,
                          "objective/cost/train_seconds": c} for i, (s, r, c) in enumerate(rows)])


def test_status_counts_eta_best_and_hypervolume():
    status = live_status(_table(), OBJECTIVES, budget=10, elapsed_s=100.0)
    assert (status.done, status.running, status.failed, status.pruned, status.finished) == (3, 1, 1, 1, 5)
    assert status.eta_s == pytest.approx(100.0)  # 5 finished in 100 s, 5 to go
    assert status.best == (("val/rmse_withheld", 1.0), ("cost/train_seconds", 10.0))  # PRUNED never counts
    # reference: worst complete + 10 % of the range = (3.2, 32); front (1, 20), (2, 10):
    # (3.2 - 2) * (32 - 10) + (2 - 1) * (32 - 20) = 26.4 + 12
    assert status.hypervolume == pytest.approx(38.4)
    line = status_line(status)
    assert line.startswith("[5/10 finished: 3 done | 1 running | 1 failed | 1 pruned] 1m40s elapsed, ETA ~1m40s")
    assert "best val/rmse_withheld 1 °C, cost/train_seconds 10 s" in line and "HV 38.4" in line


def test_no_eta_before_the_first_finished_trial_and_none_once_done():
    empty = live_status(_table().iloc[[5]], OBJECTIVES, budget=4, elapsed_s=3.0)
    assert empty.eta_s is None and "ETA" not in status_line(empty) and empty.hypervolume is None
    assert "ETA" not in status_line(live_status(_table().iloc[:3], OBJECTIVES, budget=3, elapsed_s=30.0))
    assert [duration_text(s) for s in (42, 192, 7500)] == ["42s", "3m12s", "2h05m"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_in_a_log_and_one_redrawn_line_on_a_terminal():
    log = io.StringIO()
    line = LiveLine(log)
    line.update("status 1", milestone=False)  # between milestones a log stays quiet
    line.message("trial finished")
    line.update("status 2", milestone=True)
    line.close()
    assert log.getvalue() == "trial finished\nstatus 2\n"
    term = _Terminal()
    line = LiveLine(term)
    line.update("status 1", milestone=True)
    line.message("trial finished")  # printed above the status line, which is drawn again below it
    line.close()
    assert term.getvalue() == ("\r\x1b[2Kstatus 1" "\r\x1b[2K" "trial finished\n" "\r\x1b[2Kstatus 1" "\n")
