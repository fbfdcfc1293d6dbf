"""Issue 10, "Read right, or refuse": every reproducer through the command line.

Each test runs ``imagesumming.cli.main`` on a file other tools really write (or one with the small
damage real files carry) and checks either the numbers that come out or a one-line refusal
(exit 2, no traceback, no warnings printed first).
"""

from __future__ import annotations

import csv
import warnings

import h5py
import numpy as np
import pytest

from imagesumming.cli import main
from imagesumming.io import read_locs, write_deepstorm_csv, write_tif


def run(capsys, *argv):
    """Run the CLI; return (exit code, stdout, stderr); Python warnings count as failures."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert not caught, [str(w.message) for w in caught]
    assert "Traceback" not in out + err
    return code, out, err


def refused(capsys, *argv, path=None) -> str:
    """The one error line of a refused run (exit 2), at most ~200 characters besides the path."""
    code, out, err = run(capsys, *argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    msg = lines[0]
    assert ": error: " in msg
    if path is not None:
        assert str(path) in msg
        body = msg.split(str(path), 1)[1]
    else:
        body = msg
    assert len(body) <= 210, len(body)
    return msg


def deepstorm_rows(path):
    """(frame, x, y) of a Deep-STORM csv, parsed with the csv module."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:4] == ["", "frame", "x [nm]", "y [nm]"]
    return [(int(r[1]), float(r[2]), float(r[3])) for r in rows[1:]]


# ---------------------------------------------------------------------------------------------
# 1. Picasso's plain csv; no coordinates without a unit
# ---------------------------------------------------------------------------------------------

HDF2CSV = (",frame,x,y,photons,sx,sy,bg,lpx,lpy,ellipticity,net_gradient\n"
           "0,11,5.5,6.25,1000.0,1.1,1.3,50.0,0.1,0.12,0.1,3000.0\n"
           "1,13,20.0,7.0,900.0,1.0,1.0,40.0,0.1,0.1,0.0,2500.0\n")
FILTER_CSV = ("frame,x,y,photons,sx,sy,bg,lpx,lpy,net_gradient\n"
              "2,5.5,6.25,1000.0,1.1,1.3,50.0,0.1,0.12,3000.0\n"
              "4,20.0,7.0,900.0,1.0,1.0,40.0,0.1,0.1,2500.0\n")


@pytest.mark.parametrize("text, first", [(HDF2CSV, 11), (FILTER_CSV, 2)], ids=["hdf2csv", "filter-export"])
def test_picasso_plain_csv_is_picasso(capsys, tmp_path, text, first):
    src = tmp_path / "p_locs.csv"
    src.write_text(text)
    msg = refused(capsys, "convert", src, "-o", tmp_path / "o.csv", path=src)
    assert "pixel size" in msg and "Picasso" in msg
    code, out, _ = run(capsys, "convert", src, "-o", tmp_path / "o.csv", "--pixel-size", 100)
    assert code == 0 and "picasso-plain-csv" in out and "0-based" in out
    rows = deepstorm_rows(tmp_path / "o.csv")
    assert [r[0] for r in rows] == [first + 1, first + 3]  # 0-based although frame 0 holds nothing
    np.testing.assert_allclose([r[1] for r in rows], [600.0, 2050.0])  # (x + 0.5) * 100
    np.testing.assert_allclose([r[2] for r in rows], [675.0, 750.0])


def test_picasso_plain_csv_takes_the_pixel_size_of_its_yaml(capsys, tmp_path):
    src = tmp_path / "p_locs.csv"
    src.write_text(HDF2CSV)
    (tmp_path / "p_locs.yaml").write_text("Width: 32\nHeight: 32\nFrames: 20\n---\nPixelsize: 130\n")
    code, out, _ = run(capsys, "info", src)
    assert code == 0 and "130 nm (yaml p_locs.yaml)" in out and "picasso-plain-csv" in out


def test_coordinates_without_a_unit_are_refused_naming_the_columns(capsys, tmp_path):
    src = tmp_path / "nounit.csv"
    src.write_text("frame,x,y,intensity\n1,500,600,100\n2,700,800,100\n")
    msg = refused(capsys, "convert", src, "-o", tmp_path / "o.csv", path=src)
    assert "'x, y'" in msg and "no unit" in msg and "--unit" in msg
    code, _, _ = run(capsys, "convert", src, "-o", tmp_path / "o.csv", "--unit", "um")
    assert code == 0
    assert deepstorm_rows(tmp_path / "o.csv") == [(1, 500_000.0, 600_000.0), (2, 700_000.0, 800_000.0)]


# ---------------------------------------------------------------------------------------------
# 2. frame base from the format
# ---------------------------------------------------------------------------------------------

def test_a_stray_frame_zero_in_a_one_based_file_is_refused_with_its_count(capsys, tmp_path):
    src = tmp_path / "ts.csv"
    rows = "".join(f"{i + 1},{f},{100 * i},{50 * i}\n" for i, f in enumerate([0, 1, 1, 2, 5, 9]))
    src.write_text('"id","frame","x [nm]","y [nm]"\n' + rows)
    msg = refused(capsys, "convert", src, "-o", tmp_path / "o.csv", path=src)
    assert "1 of 6 localization(s) are in frame 0" in msg and "--frame-base 0" in msg
    code, out, _ = run(capsys, "convert", src, "-o", tmp_path / "o.csv", "--frame-base", "0")
    assert code == 0 and "overridden" in out
    assert [r[0] for r in deepstorm_rows(tmp_path / "o.csv")] == [1, 2, 2, 3, 6, 10]


def test_picasso_hdf5_whose_frame_zero_is_empty_is_still_zero_based(capsys, tmp_path):
    rec = np.zeros(2, dtype=[("frame", "u4"), ("x", "f4"), ("y", "f4"), ("lpx", "f4"), ("lpy", "f4")])
    rec["frame"], rec["x"], rec["y"] = [3, 7], [1.0, 2.0], [1.0, 2.0]
    with h5py.File(tmp_path / "a_locs.hdf5", "w") as f:
        f.create_dataset("locs", data=rec)
    (tmp_path / "a_locs.yaml").write_text("Pixelsize: 100\n")
    code, _, _ = run(capsys, "convert", tmp_path / "a_locs.hdf5", "-o", tmp_path / "o.csv")
    assert code == 0 and [r[0] for r in deepstorm_rows(tmp_path / "o.csv")] == [4, 8]


# ---------------------------------------------------------------------------------------------
# 3. frames are exact whole numbers; 4. trailing delimiters
# ---------------------------------------------------------------------------------------------

def test_fractional_frames_are_refused_in_csv_and_hdf5(capsys, tmp_path):
    src = tmp_path / "frac.csv"
    src.write_text(",frame,x [nm],y [nm]\n1,3101.98,500,600\n2,10.99999,5,6\n")
    msg = refused(capsys, "convert", src, "-o", tmp_path / "o.csv", path=src)
    assert "2 frame number(s) are not whole numbers" in msg
    assert not (tmp_path / "o.csv").exists()
    rec = np.zeros(2, dtype=[("frame", "f4"), ("x", "f4"), ("y", "f4"), ("lpx", "f4"), ("lpy", "f4")])
    rec["frame"] = [3.0, 7.5]
    with h5py.File(tmp_path / "mm_locs.hdf5", "w") as f:
        f.create_dataset("locs", data=rec)
    (tmp_path / "mm_locs.yaml").write_text("Pixelsize: 100\n")
    msg = refused(capsys, "info", tmp_path / "mm_locs.hdf5", path=tmp_path / "mm_locs.hdf5")
    assert "1 frame number(s) are not whole numbers (e.g. 7.5)" in msg


def test_a_trailing_delimiter_does_not_shift_the_columns(capsys, tmp_path):
    src = tmp_path / "trail.csv"
    src.write_text('"id","frame","x [nm]","y [nm]","sigma [nm]"\n1,5,500,600,130,\n2,7,700,800,130,\n')
    code, out, _ = run(capsys, "convert", src, "-o", tmp_path / "o.csv")
    assert code == 0 and "delimiter" in out
    assert deepstorm_rows(tmp_path / "o.csv") == [(5, 500.0, 600.0), (7, 700.0, 800.0)]


def test_a_trailing_delimiter_on_some_rows_after_an_index_column_is_read_as_the_rule_says(capsys, tmp_path):
    """One extra empty field is allowed on any row (pandas refused it after an unnamed index column)."""
    src = tmp_path / "ds.csv"
    src.write_text(",frame,x [nm],y [nm]\n0,1,100.5,200\n1,2,300,400,\n2,3,50,60\n")
    code, out, _ = run(capsys, "convert", src, "-o", tmp_path / "o.csv")
    assert code == 0 and "delimiter" in out
    assert deepstorm_rows(tmp_path / "o.csv") == [(1, 100.5, 200.0), (2, 300.0, 400.0), (3, 50.0, 60.0)]


def test_rows_with_a_field_too_many_or_too_few_are_refused_with_the_line(capsys, tmp_path):
    src = tmp_path / "shifted.csv"
    src.write_text('"id","frame","x [nm]","y [nm]"\n1,5,500,600\n2,7,700.800\n3,8,1,2\n')
    msg = refused(capsys, "info", src, path=src)
    assert "line 3 has 3 fields where the header has 4" in msg


# ---------------------------------------------------------------------------------------------
# 5. Picasso yaml values
# ---------------------------------------------------------------------------------------------

def _picasso(tmp_path, name, yaml_bytes: bytes, with_json=None):
    rec = np.zeros(3, dtype=[("frame", "u4"), ("x", "f4"), ("y", "f4"), ("lpx", "f4"), ("lpy", "f4")])
    rec["frame"], rec["x"], rec["y"] = [0, 2, 5], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]
    path = tmp_path / f"{name}_locs.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("locs", data=rec)
        if with_json:
            f.create_dataset("metadata", data=np.bytes_(with_json.encode()))
    (tmp_path / f"{name}_locs.yaml").write_bytes(yaml_bytes)
    return path


@pytest.mark.parametrize("text, key", [
    (b"Pixelsize: true\n", "Pixelsize"), (b"Pixelsize: 0\n", "Pixelsize"), (b"Pixelsize: -5\n", "Pixelsize"),
    (b"Pixelsize: 100\nWidth: abc\n", "Width"), (b"Pixelsize: 100\nWidth: [96]\n", "Width"),
    (b"Pixelsize: 100\nWidth: 1e30\n", "Width"), (b"Pixelsize: 100\nHeight: 1.0e+30\n", "Height"),
    (b"Pixelsize: 100\nFrames: sixty\n", "Frames"),
])
@pytest.mark.parametrize("command", ["info", "convert", "sum", "split"])
def test_picasso_yaml_values_of_the_wrong_type_are_one_line_naming_key_and_file(capsys, tmp_path, text, key,
                                                                                  command):
    path = _picasso(tmp_path, "bad", text, with_json='[{"Pixelsize": 107}]')
    yml = tmp_path / "bad_locs.yaml"
    movie = write_tif(tmp_path / "m.tif", np.zeros((6, 8, 8), np.uint16), 100.0)
    argv = {"info": ["info", path], "convert": ["convert", path, "-o", tmp_path / "o.csv"],
            "sum": ["sum", "--movie", movie, "--locs", path, "-o", tmp_path / "s"],
            "split": ["split", movie, path, "--at", 3, "-o", tmp_path / "parts"]}[command]
    msg = refused(capsys, *argv, path=yml)
    assert f"{key}:" in msg


def test_picasso_yaml_in_cp1252_is_read(capsys, tmp_path):
    path = _picasso(tmp_path, "win", "Camera: Andor \xb5Manager\nPixelsize: 107\n".encode("cp1252"))
    code, out, _ = run(capsys, "info", path)
    assert code == 0 and "107 nm" in out and "cp1252" in out


def test_picasso_hdf5_made_by_csv2hdf_is_warned_about(capsys, caplog, tmp_path):
    path = _picasso(tmp_path, "ts", b"Generated by: Picasso v0.6.2 csv2hdf\nPixelsize: 100\nWidth: 8\n"
                                    b"Height: 8\nFrames: 6\n")
    with caplog.at_level("WARNING", logger="imagesumming"):
        code, out, _ = run(capsys, "info", path)
    assert code == 0 and "csv2hdf" in out and "half a pixel (50 nm) off" in out
    assert "csv2hdf" in caplog.text  # also a warning, where a script's log shows it
    code, out, _ = run(capsys, "convert", path, "-o", tmp_path / "o.csv")
    assert code == 0 and "half a pixel" in out


# ---------------------------------------------------------------------------------------------
# 8. clean errors
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("frame", ["1e20", str(2**63), str(2**64), "-9223372036854775809", "2147483648"])
def test_huge_frame_numbers_are_one_clean_line(capsys, tmp_path, frame):
    src = tmp_path / "huge.csv"
    src.write_text(f"frame,x [nm],y [nm]\n1,10,10\n{frame},20,20\n")
    msg = refused(capsys, "convert", src, "-o", tmp_path / "o.csv", path=src)
    assert "frame number" in msg


def test_rapidstorm_file_is_one_short_line(capsys, tmp_path):
    fields = "".join(f'<field identifier="Position-{i}-0" syntax="floating point with . for decimals and optional '
                     f'scientific e-notation" semantic="position in sample space in X" unit="nanometer" '
                     f'min="0 m" max="3.69e-005 m" />' for i in range(6))
    src = tmp_path / "rs.txt"
    src.write_text(f'# <localizations insequence="true" repetitions="variable">{fields}</localizations>\n'
                   "1000.5 2000.25 3 400\n")
    msg = refused(capsys, "info", src, path=src)
    assert "rapidSTORM" in msg


def test_latin1_text_is_named_as_such(capsys, tmp_path):
    src = tmp_path / "lat.csv"
    src.write_bytes('"id","frame","x [µm]","y [µm]"\n1,1,2,3\n'.encode("latin-1"))
    msg = refused(capsys, "info", src, path=src)
    assert "not UTF-8" in msg and "0xb5" in msg and "binary" not in msg


def test_tab_separated_thunderstorm_export_is_read(capsys, tmp_path):
    src = tmp_path / "ts.xls"  # ThunderSTORM's "XLS (tab separated)" export
    src.write_text('"id"\t"frame"\t"x [nm]"\t"y [nm]"\t"sigma [nm]"\n1\t1\t120.5\t80.25\t150\n2\t4\t30\t40\t150\n')
    code, out, _ = run(capsys, "convert", src, "-o", tmp_path / "o.csv")
    assert code == 0 and "tab-separated" in out
    assert deepstorm_rows(tmp_path / "o.csv") == [(1, 120.5, 80.25), (4, 30.0, 40.0)]


def test_header_in_one_quoted_field(capsys, tmp_path):
    src = tmp_path / "q.csv"
    src.write_text('"frame,x [nm],y [nm]"\n"1,2,3"\n')
    msg = refused(capsys, "info", src, path=src)
    assert "one quoted field" in msg


def test_nul_bytes_in_the_last_row_are_one_line(capsys, tmp_path):
    """Issue 11 item 4: Python 3.10's csv module raised `line contains NUL` here."""
    src = tmp_path / "nul.csv"
    src.write_bytes(b",frame,x [nm],y [nm]\n1,1,10,20\n2,2,30\x00,40\n")
    msg = refused(capsys, "info", src, path=src)
    assert "NUL" in msg and "line 3" in msg


# ---------------------------------------------------------------------------------------------
# 9. a user-given column mapping, everywhere localizations are read
# ---------------------------------------------------------------------------------------------

MAP = "frame=Frame,x=X (nm),y=Y (nm)"


def _oni(path, table, base=0):
    """An ONI Nanoimager-like export of a canonical table."""
    with open(path, "w", newline="") as fh:
        fh.write("Channel,Frame,X (nm),Y (nm),Z (nm),Photons,Background\n")
        for f, x, y in zip(table["frame"], table["x"], table["y"]):
            fh.write(f"0,{int(f) - 1 + base},{x!r},{y!r},0,1000,10\n")
    return path


def test_column_mapping_in_info_and_convert(capsys, tmp_path, small_movie):
    _, truth = small_movie
    src = _oni(tmp_path / "oni.csv", truth)
    msg = refused(capsys, "info", src, path=src)
    assert "--columns" in msg
    msg = refused(capsys, "info", src, "--columns", MAP, path=src)
    assert "--frame-base" in msg
    code, out, _ = run(capsys, "info", src, "--columns", MAP, "--frame-base", 0)
    assert code == 0 and "mapped-csv" in out and f"localizations: {len(truth)}" in out
    code, _, _ = run(capsys, "convert", src, "-o", tmp_path / "o.csv", "--columns", MAP, "--frame-base", 0)
    rows = deepstorm_rows(tmp_path / "o.csv")
    assert [r[0] for r in rows] == list(truth["frame"])
    np.testing.assert_allclose([r[1] for r in rows], truth["x"], rtol=0, atol=1e-9)
    # the unit: from the label "X (nm)", or --unit when the label states none; both must agree
    msg = refused(capsys, "info", src, "--columns", MAP, "--frame-base", 0, "--unit", "um", path=src)
    assert "states nm but the unit given is um" in msg
    bare = tmp_path / "bare.csv"
    bare.write_text("Frame\tPosX\tPosY\n1\t1.5\t2.5\n")
    msg = refused(capsys, "info", bare, "--columns", "frame=Frame,x=PosX,y=PosY", "--frame-base", 1, path=bare)
    assert "no unit" in msg
    code, _, _ = run(capsys, "convert", bare, "-o", tmp_path / "b.csv", "--columns", "frame=Frame,x=PosX,y=PosY",
                     "--frame-base", 1, "--unit", "um")
    assert code == 0 and deepstorm_rows(tmp_path / "b.csv") == [(1, 1500.0, 2500.0)]
    msg = refused(capsys, "info", src, "--columns", "frame=Frame,x=X,y=Y (nm)", "--frame-base", 0, path=src)
    assert "'X'" in msg and "not a column" in msg


def test_column_mapping_api(tmp_path, small_movie):
    from imagesumming.io.locs import LocsFile

    _, truth = small_movie
    src = _oni(tmp_path / "oni.csv", truth, base=1)
    a, rep = read_locs(src, columns={"frame": "Frame", "x": "X (nm)", "y": "Y (nm)"}, frame_base=1)
    b, _ = read_locs(LocsFile(src, columns=MAP, frame_base=1))
    assert rep.format == "mapped-csv" and rep.frame_base == 1
    np.testing.assert_array_equal(a["frame"], truth["frame"])
    np.testing.assert_array_equal(b["frame"], truth["frame"])
    assert "Photons" in a.columns  # unmapped columns are kept under their own names


def test_column_mapping_in_sum_gives_what_the_deepstorm_csv_gives(capsys, tmp_path, small_movie):
    movie, truth = small_movie
    tif = write_tif(tmp_path / "m.tif", movie, 100.0)
    ds = write_deepstorm_csv(tmp_path / "m.csv", truth)
    oni = _oni(tmp_path / "oni.csv", truth)
    opts = ["--patch-size", 12, "--patches", 10, "--summed", 4, "--bin-size", 2, "--min-emitters", 1, "--seed", 3,
            "-q"]
    assert run(capsys, "sum", "--movie", tif, "--locs", ds, "-o", tmp_path / "a", *opts)[0] == 0
    assert run(capsys, "sum", "--movie", tif, "--locs", oni, "-o", tmp_path / "b", "--columns", MAP,
               "--frame-base", 0, *opts)[0] == 0
    assert deepstorm_rows(tmp_path / "a" / "summed.csv") == deepstorm_rows(tmp_path / "b" / "summed.csv")
    assert (tmp_path / "a" / "summed.tif").read_bytes() == (tmp_path / "b" / "summed.tif").read_bytes()


def test_column_mapping_in_the_addons(capsys, tmp_path, small_movie):
    movie, truth = small_movie
    tif = write_tif(tmp_path / "m.tif", movie, 100.0)
    oni = _oni(tmp_path / "oni.csv", truth)
    m = ["--columns", MAP, "--frame-base", 0]
    assert run(capsys, "split", tif, oni, "--at", 6, "-o", tmp_path / "parts", *m)[0] == 0
    part1, _ = read_locs(tmp_path / "parts" / "m_part1.csv")  # written as ThunderSTORM csv
    np.testing.assert_array_equal(part1["frame"], truth["frame"][truth["frame"] <= 6])
    assert run(capsys, "merge", "--movie", tif, "--locs", oni, "--movie", tif, "--locs", oni,
               "-o", tmp_path / "merged", *m)[0] == 0
    merged, _ = read_locs(tmp_path / "merged.csv")
    assert len(merged) == 2 * len(truth) and merged["frame"].max() == 12 + truth["frame"].max()
    assert run(capsys, "frames", tif, oni, "-o", tmp_path / "frames", *m)[0] == 0
    assert run(capsys, "sum-frames", tif, "--locs", oni, "-n", 3, "--camera-offset", 100,
               "-o", tmp_path / "sf", *m)[0] == 0
    summed, _ = read_locs(tmp_path / "sf.csv")
    np.testing.assert_array_equal(np.sort(summed["frame"]), np.sort((truth["frame"] - 1) // 3 + 1))
    # without the mapping the same file is refused, in every command
    msg = refused(capsys, "frames", tif, oni, "-o", tmp_path / "frames2", path=oni)
    assert "--columns" in msg


def test_column_mapping_for_the_ground_truth_of_evaluate(capsys, tmp_path, small_movie):
    movie, truth = small_movie
    tif = write_tif(tmp_path / "m.tif", movie, 100.0)
    oni = _oni(tmp_path / "oni.csv", truth)
    pred = tmp_path / "Localizations_m_avg.csv"
    with open(pred, "w") as fh:
        fh.write("frame,x [nm],y [nm],confidence [a.u]\n")
        for f, x, y in zip(truth["frame"], truth["x"], truth["y"]):
            fh.write(f"{f},{x + 10!r},{y!r},0.9\n")
    code, out, _ = run(capsys, "evaluate", pred, "--gt", oni, "--gt-columns", MAP, "--gt-frame-base", 0,
                       "--movie", tif, "-o", tmp_path / "eval", "--pixel-size", 100)
    assert code == 0, out
    import json

    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["n_gt"] == len(truth)
    assert '"recall": 1.0' in (tmp_path / "eval" / "metrics.json").read_text().replace(" ", " ")


def test_column_mapping_in_the_addons_form(tmp_path, small_movie):
    from imagesumming.widgets import AddOnsUI
    from imagesumming.widgets import _common as c

    _, truth = small_movie
    oni = _oni(tmp_path / "oni.csv", truth)
    ui = AddOnsUI(locs=oni, out_dir=tmp_path / "out")
    assert ui.convert() is None and "have no frame/x/y" in c.message_text(ui.convert_form.status)
    ui.convert_columns.value = MAP
    assert ui.convert() is None and "frame base" in c.message_text(ui.convert_form.status)
    ui.convert_frame_base.value = 0
    out = ui.convert()
    assert out == tmp_path / "out" / "oni_deepstorm.csv", c.message_text(ui.convert_form.status)
    assert [r[0] for r in deepstorm_rows(out)] == list(truth["frame"])
    ui.convert_unit.value = "um"  # disagrees with the label "X (nm)": refused
    ui.convert_form.force.value = True
    assert ui.convert() is None and "states nm" in c.message_text(ui.convert_form.status)


@pytest.mark.parametrize("spec, words", [
    ("frame=Frame,x=X", "must name the file's columns for y"), ("frame=Frame,x=X,y", "is not NAME=LABEL"),
    ("frame=Frame,x=X,y=Y,speed=S", "'speed' is not a column name"), ("frame=F,x=X,y=X", "mapped twice"),
])
def test_bad_column_mappings_are_one_line(capsys, tmp_path, spec, words):
    src = tmp_path / "a.csv"
    src.write_text("F,X,Y\n1,2,3\n")
    msg = refused(capsys, "info", src, "--columns", spec, "--frame-base", 1, "--unit", "nm")
    assert words in msg


def test_text_damage_that_would_shift_columns_is_refused_with_the_line(capsys, tmp_path):
    cases = {
        "cr.csv": (b'"id","frame","x [nm]","y [nm]"\n1,5,50\r0,600\n', "line 2 holds a carriage return"),
        "mixed.csv": (b'frame,x [nm]\ty [nm]\n1,2\t3\n', "mixes comma and tab"),
        "quoted.csv": (b'"id","frame","x [nm]","y [nm]"\n"1","5","500","600"\n"2","7","700"\n', "line 3 has 3 fields"),
        "fewer.csv": (b',frame,x [nm],y [nm],Photon #,Sigma [nm]\n1,1,10,20,100,130\n2,2,30,40\n', "line 3 has 4"),
    }
    for name, (data, words) in cases.items():
        src = tmp_path / name
        src.write_bytes(data)
        assert words in refused(capsys, "info", src, path=src), name


def test_quoted_fields_and_a_header_with_a_trailing_delimiter_are_read(capsys, tmp_path):
    src = tmp_path / "q.csv"
    src.write_text('"id","frame","x [nm]","y [nm]",\n"1","5","500.5","600",\n"2","7","700","800",\n')
    code, _, _ = run(capsys, "convert", src, "-o", tmp_path / "o.csv")
    assert code == 0 and deepstorm_rows(tmp_path / "o.csv") == [(5, 500.5, 600.0), (7, 700.0, 800.0)]


def test_real_picasso_file_as_hdf2csv_and_filter_export(capsys, tmp_path, shared_data):
    """Picasso's testdata_locs.hdf5 written as `picasso hdf2csv` and Filter's Export as CSV write it
    (pandas to_csv of the /locs table, with and without the index): read as the hdf5 is."""
    import shutil

    import pandas as pd

    h5 = shared_data / "picasso" / "testdata_locs.hdf5"
    want, _ = read_locs(h5)
    with h5py.File(h5, "r") as f:
        table = pd.DataFrame(f["locs"][...])
    for name, index in (("hdf2csv_locs", True), ("filter_locs", False)):
        src = tmp_path / f"{name}.csv"
        table.to_csv(src, index=index)
        shutil.copy(shared_data / "picasso" / "testdata_locs.yaml", tmp_path / f"{name}.yaml")
        code, out, _ = run(capsys, "convert", src, "-o", tmp_path / f"{name}_ds.csv")
        assert code == 0 and "picasso-plain-csv" in out and "pixel size 130 nm" in out
        rows = deepstorm_rows(tmp_path / f"{name}_ds.csv")
        got = pd.DataFrame(rows, columns=["frame", "x", "y"])
        np.testing.assert_array_equal(np.sort(got["frame"]), np.sort(want["frame"]))
        np.testing.assert_allclose(np.sort(got["x"]), np.sort(want["x"]), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# where a csv read by a column mapping puts a pixel's centre (--origin)
# ---------------------------------------------------------------------------------------------

def test_pixel_coordinates_by_a_mapping_need_the_origin(capsys, tmp_path):
    """Picasso puts a pixel's centre at k, ThunderSTORM at k + 0.5: for px columns the file must say which."""
    src = tmp_path / "px.csv"
    src.write_text("Frame,X,Y,S\n1,2.5,3.0,1.2\n2,10,0.25,1.0\n")
    mapping = ["--columns", "frame=Frame,x=X,y=Y,sigma=S", "--frame-base", "1", "--unit", "px", "--pixel-size", "100"]
    msg = refused(capsys, "convert", src, "-o", tmp_path / "o.csv", *mapping, path=src)
    assert "--origin" in msg and "corner" in msg and "centre" in msg
    assert run(capsys, "convert", src, "-o", tmp_path / "corner.csv", *mapping, "--origin", "corner")[0] == 0
    assert deepstorm_rows(tmp_path / "corner.csv") == [(1, 250.0, 300.0), (2, 1000.0, 25.0)]
    code, out, _ = run(capsys, "convert", src, "-o", tmp_path / "centre.csv", *mapping, "--origin", "centre")
    assert code == 0 and "shifted by half a pixel (50 nm)" in out
    assert deepstorm_rows(tmp_path / "centre.csv") == [(1, 300.0, 350.0), (2, 1050.0, 75.0)]
    centre, _ = read_locs(tmp_path / "centre.csv")
    assert list(centre["sigma"]) == [120.0, 100.0]  # widths are not moved


def test_origin_centre_in_nm_needs_the_pixel_size_and_other_formats_refuse_it(capsys, tmp_path):
    src = tmp_path / "nm.csv"
    src.write_text("Frame,X (nm),Y (nm)\n1,150,250\n")
    mapping = ["--columns", "frame=Frame,x=X (nm),y=Y (nm)", "--frame-base", "1", "--unit", "nm"]
    assert run(capsys, "convert", src, "-o", tmp_path / "a.csv", *mapping)[0] == 0  # nm: the corner, as before
    assert deepstorm_rows(tmp_path / "a.csv") == [(1, 150.0, 250.0)]
    msg = refused(capsys, "convert", src, "-o", tmp_path / "b.csv", *mapping, "--origin", "centre", path=src)
    assert "half a pixel" in msg and "--pixel-size" in msg
    assert run(capsys, "convert", src, "-o", tmp_path / "b.csv", *mapping, "--origin", "centre",
               "--pixel-size", "160")[0] == 0
    assert deepstorm_rows(tmp_path / "b.csv") == [(1, 230.0, 330.0)]
    ds = tmp_path / "ds.csv"
    write_deepstorm_csv(ds, read_locs(tmp_path / "a.csv")[0])
    msg = refused(capsys, "info", ds, "--origin", "centre", path=ds)
    assert "--columns" in msg


def test_a_picasso_export_in_pixels_read_by_a_mapping_matches_the_hdf5(tmp_path):
    """The same localizations: Picasso hdf5, and a csv of its fields in px read with origin centre, frame base 0."""
    from imagesumming.io import LocsFile, write_picasso_hdf5
    from imagesumming.schema import make_locs

    rng = np.random.default_rng(3)
    table = make_locs({"frame": rng.integers(1, 9, 50), "x": rng.uniform(0, 3200, 50), "y": rng.uniform(0, 3200, 50)})
    h5 = write_picasso_hdf5(tmp_path / "p_locs.hdf5", table, pixel_size=160, width=20, height=20, frames=8)
    with h5py.File(h5) as f:
        rec = f["locs"][...]
    other = tmp_path / "other.csv"
    with other.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t", "x_px", "y_px"])
        w.writerows(zip(rec["frame"].tolist(), rec["x"].tolist(), rec["y"].tolist()))
    direct, _ = read_locs(h5)
    mapped, rep = read_locs(LocsFile(other, columns="frame=t,x=x_px,y=y_px", frame_base=0, unit="px",
                                     origin="center"), pixel_size=160)
    assert rep.origin == "pixel centre"
    assert np.array_equal(mapped["frame"], direct["frame"])
    np.testing.assert_allclose(mapped[["x", "y"]].to_numpy(), direct[["x", "y"]].to_numpy(), rtol=0, atol=1e-9)


def test_origin_in_the_addons_form(tmp_path):
    from imagesumming.widgets import AddOnsUI
    from imagesumming.widgets import _common as c

    src = tmp_path / "px.csv"
    src.write_text("Frame,X,Y\n1,2.5,3.0\n2,10,0.25\n")
    ui = AddOnsUI(locs=src, out_dir=tmp_path / "out")
    ui.convert_columns.value, ui.convert_frame_base.value, ui.convert_unit.value = "frame=Frame,x=X,y=Y", 1, "px"
    ui.convert_form.pixel_size.value = 100
    assert ui.convert() is None
    status = c.message_text(ui.convert_form.status)
    assert "the 'pixel centre (columns)' field" in status and "--origin" not in status
    ui.convert_origin.value = "centre"
    out = ui.convert()
    assert out is not None and deepstorm_rows(out) == [(1, 300.0, 350.0), (2, 1050.0, 75.0)]
