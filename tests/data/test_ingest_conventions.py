"""Names, byte strings and QC flags as real files encode them."""

from __future__ import annotations

import numpy as np
import pytest

from depthdif.data.ingest.conventions import (IngestError, decode_strings, find_name, masked_to_nan, qc_flags,
                                              qc_good, require_name)


def test_conventions_decode_qc_and_names():
    chars = np.array([[b"5", b"9", b"0"], [b"1", b"2", b" "]])
    assert decode_strings(chars).tolist() == ["590", "12"]
    assert qc_flags(chars).tolist() == [[5, 9, 0], [1, 2, -1]]
    assert qc_good(np.array(["1", "2", "4", "", "8"], dtype=object)).tolist() == [True, True, False, False, False]
    assert qc_good(np.array([1, 3, 2])).tolist() == [True, False, True]
    assert qc_good(np.array(["1.0", "4.0", "12"], dtype=object)).tolist() == [True, False, False]
    assert qc_good(np.array([1.0, np.nan, 4.0])).tolist() == [True, False, False]
    assert find_name(["TEMP", "Pres"], ["pres", "pressure"]) == "Pres"
    assert find_name(["TEMP"], ["psal"]) is None


def test_fill_values_become_nan_and_missing_names_are_listed():
    values = masked_to_nan(np.array([1.5, 99999.0, 9.96921e36]), [99999.0])
    assert values[0] == 1.5 and np.isnan(values[1:]).all()
    masked = masked_to_nan(np.ma.array([1.0, 2.0], mask=[False, True]))
    assert masked[0] == 1.0 and np.isnan(masked[1])
    with pytest.raises(IngestError, match=r"f\.nc: missing variable TEMP \(looked for \['TEMP'\]"):
        require_name(["PRES"], ["TEMP"], "f.nc", "TEMP")


def test_qc_flags_accept_ascii_digits_only():
    from depthdif.data.ingest.conventions import qc_flags

    assert qc_flags(np.array(["1", "²", "٣", "4", " ", "1.0"], dtype=object)).tolist() == [1, -1, -1, 4, -1, 1]


def test_truncated_netcdf_files_are_named(shared_data, tmp_path):
    import pytest

    from depthdif.data.ingest import IngestError, read_argo

    data = (shared_data / "argo_gdac" / "5900865_prof.nc").read_bytes()
    for fraction in (0.5, 0.97, 0.0005):
        cut = tmp_path / f"cut_{fraction}.nc"
        cut.write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(IngestError, match=rf"cut_{fraction}\.nc: truncated"):
            read_argo([cut])
    assert len(read_argo([shared_data / "argo_gdac" / "5900865_prof.nc"])) > 0  # the whole file reads


def test_reader_failures_name_the_file(tmp_path):
    import pytest

    from depthdif.data.ingest import IngestError, read_argo

    bad = tmp_path / "bad.csv"
    bad.write_text("platform,time,latitude,longitude,pres,temp,data_mode,temp_adjusted\n1,2020-01-01,0,0,5,10,A,x\n")
    with pytest.raises(IngestError, match=r"bad\.csv"):
        read_argo([bad])
