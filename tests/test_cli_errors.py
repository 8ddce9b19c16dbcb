"""OSError from the filesystem ends the CLI with one line: path, operation, errno text (issue 12
row 8); `--debug` shows the traceback."""

from __future__ import annotations

import pytest

from depthdif.cli import main


def test_unwritable_storage_is_one_line_not_a_traceback(tmp_path, tiny_store, capsys):
    blocker = tmp_path / "storage"
    blocker.write_text("a file where the study storage folder should be")
    argv = ["data", "synth", "--out", str(blocker / "s.zarr"), "--size", "32", "--times", "2", "--levels", "4",
            "--patch-size", "16", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"depthdif: error: {blocker}: File exists (EEXIST) while calling mkdir in write_store")
    assert err.strip().endswith("rerun with --debug for the traceback")
    assert main(["--debug", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.strip().endswith("rerun with --debug for the traceback")


def test_a_full_disk_names_the_errno_and_the_operation():
    from depthdif.cli import describe_error

    def write_results():  # a real ENOSPC: /dev/full accepts nothing
        with open("/dev/full", "w") as fh:
            fh.write("x" * 10)

    with pytest.raises(OSError) as err:
        write_results()
    line = describe_error(err.value)  # a write error has no file name: found in the failing frame
    assert line.startswith("error: /dev/full: No space left on device (ENOSPC) while calling write_results")
    assert line.endswith("rerun with --debug for the traceback")
