"""Localization files as other tools really write them, tried through the command line.

Each test writes a file exactly as the tool does (format read from the tool's source or its own
sample files) and checks the numbers that come out against an independent reading, or a one-line
refusal. Complements test_read_or_refuse.py (the issue's reproducers).
"""

from __future__ import annotations

import csv

import pytest

from test_read_or_refuse import deepstorm_rows, refused, run

# Zeiss ZEN (Elyra) text export, laid out as Locan's sample file: tab-separated, CRLF, the table
# ends with a NUL byte at a line start, then the acquisition's metadata in cp1252 with lone CRs.
_ELYRA_HEADER = ("Index\tFirst Frame\tNumber Frames\tFrames Missing\tPosition X [nm]\tPosition Y [nm]\t"
                 "Precision [nm]\tNumber Photons\tBackground variance\tChi square\tPSF half width [nm]\t"
                 "Channel\tZ Slice")
_ELYRA_TRAILER = (b"\x00\r\r\nVoxelSizeX : 0.0970873786 \xb5m\r\r\nVoxelSizeY : 0.0970873786 \xb5m\r\r\n"
                  b"ResolutionX : 0.1000000000\r\r\nSizeX : 3200\r\r\nSizeY : 3200\r\r\n\r\nROI List : \r\r\n")
_ELYRA_COLUMNS = "frame=First Frame,x=Position X [nm],y=Position Y [nm]"


def _elyra(path, rows):
    lines = [_ELYRA_HEADER] + [f"{i + 1}\t{f}\t1\t0\t{x}\t{y}\t8.6\t472\t5.33\t0.28\t110.0\t1\t1"
                               for i, (f, x, y) in enumerate(rows)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode() + _ELYRA_TRAILER)
    return path


def test_elyra_export_is_read_up_to_its_metadata_trailer(capsys, tmp_path):
    rows = [(1, 15850.6, 23502.1), (1, 25617.3, 24310.2), (3, 20155.8, 24039.1)]
    src = _elyra(tmp_path / "elyra.txt", rows)
    before = src.read_bytes()
    code, out, err = run(capsys, "convert", src, "--columns", _ELYRA_COLUMNS, "--frame-base", "1",
                         "-o", tmp_path / "out.csv")
    assert code == 0, err
    assert "Elyra metadata" in out + err
    assert deepstorm_rows(tmp_path / "out.csv") == rows
    assert src.read_bytes() == before
    code, out, _ = run(capsys, "info", src, "--columns", _ELYRA_COLUMNS, "--frame-base", "1")
    assert code == 0 and "rows: 3" in out and "Elyra metadata from line 5" in out


def test_elyra_trailer_found_beyond_the_first_mebibyte(capsys, tmp_path):
    rows = [(1 + i // 100, 100.0 + i, 200.0 + i) for i in range(20000)]  # ~1.6 MB of table
    src = _elyra(tmp_path / "big.txt", rows)
    code, out, err = run(capsys, "convert", src, "--columns", _ELYRA_COLUMNS, "--frame-base", "1",
                         "-o", tmp_path / "out.csv")
    assert code == 0, err
    assert deepstorm_rows(tmp_path / "out.csv") == rows


def test_nul_bytes_that_are_not_an_elyra_trailer_are_still_refused(capsys, tmp_path):
    header = '"id","frame","x [nm]","y [nm]"\n'
    src = tmp_path / "ts.csv"
    src.write_bytes(header.encode() + b"1,1,100,200\n\x00\x00\x00\x00\n")  # a crash left zeros
    assert "NUL" in refused(capsys, "info", src, path=src)
    # an Elyra-like trailer in the middle of the table is not a trailer
    src.write_bytes(header.encode() + b"1,1,100,200\n\x00VoxelSizeX : 1\n2,2,300,400\n\x00\n")
    assert "NUL" in refused(capsys, "info", src, path=src)
    src.write_bytes(header.encode() + b"1,1,100,200\n\x00\nVoxelSizeX : 1\n2,2,300,400\n")
    assert "NUL" in refused(capsys, "info", src, path=src)


def test_a_csv_without_header_row_is_refused_not_short_of_its_first_row(capsys, tmp_path):
    # e.g. an SMLM-challenge style submission: numbers from line 1 on. Read with --columns naming
    # the first row's numbers, the first localization silently became the header.
    src = tmp_path / "noheader.csv"
    src.write_text("1,2,3456.2,1234.5\n2,1,3.2,4.5\n")
    msg = refused(capsys, "convert", src, "--columns", "frame=1,x=3456.2,y=1234.5", "--frame-base", "1",
                  "--unit", "nm", "-o", tmp_path / "out.csv", path=src)
    assert "no header row" in msg
    assert not (tmp_path / "out.csv").exists()
    assert "no header row" in refused(capsys, "info", src, path=src)


def test_decode_csv_comment_lines_are_named(capsys, tmp_path):
    # DECODE's emitter csv (decode.utils.emitter_io.save_csv): three '# ' lines, then the header
    src = tmp_path / "emitter.csv"
    src.write_text('# DECODE EmitterSet\n# {"version": "0.10.0"}\n# {"xy_unit": "px", "px_size": [100.0, 100.0]}\n'
                   "x,y,z,phot,frame_ix,id\n1.5,2.5,0.0,1000.0,0,0\n")
    msg = refused(capsys, "info", src, path=src)
    assert "comment" in msg and "not split" not in msg


def test_thunderstorm_java_nan_and_infinity_are_missing_values(capsys, tmp_path):
    # ThunderSTORM formats numbers with java.text.DecimalFormat: infinity is written as '∞' and,
    # on Java 8 (Fiji's), NaN as U+FFFD. They are missing values, reported as 'NaN' ones are.
    src = tmp_path / "ts.csv"
    src.write_text('"id","frame","x [nm]","y [nm]","uncertainty_xy [nm]"\n'
                   "1,1,100.5,200.25,\ufffd\n2,1,\u221e,300,12.5\n3,2,500,600,-\u221e\n", encoding="utf-8")
    code, out, err = run(capsys, "info", src)
    assert code == 0, err
    assert "1 of 3 localizations: NaN or infinite x/y" in out
    code, out, err = run(capsys, "convert", src, "--drop-invalid", "-o", tmp_path / "out.csv")
    assert code == 0, err
    assert deepstorm_rows(tmp_path / "out.csv") == [(1, 100.5, 200.25), (2, 500.0, 600.0)]


@pytest.mark.parametrize("value, hint", [("1500,5", "decimal comma"), ('"1,500.5"', "thousands separator")])
def test_spreadsheet_number_formats_are_named(capsys, tmp_path, value, hint):
    src = tmp_path / "ts.csv"
    delim = ";" if hint == "decimal comma" else ","
    src.write_text(delim.join(['"id"', '"frame"', '"x [nm]"', '"y [nm]"']) + "\n"
                   + delim.join(["1", "1", value, "2500"]) + "\n")
    assert hint in refused(capsys, "info", src, path=src)


def test_info_with_movie_takes_its_pixel_size_as_sum_does(capsys, tmp_path):
    # Picasso's "Export for ThunderSTORM" (picasso.io.export_thunderstorm: pandas, unquoted header,
    # id and frame from 0, x [nm] = x_px * pixel size, bkgstd 0). sum reads it with the movie's
    # pixel size; info --movie refused it ("give --pixel-size").
    import numpy as np

    from imagesumming.io import write_tif

    write_tif(tmp_path / "m.tif", np.full((8, 16, 16), 100, np.uint16), pixel_size=130)
    src = tmp_path / "export.csv"
    src.write_text("id,frame,x [nm],y [nm],sigma [nm],intensity [photon],offset [photon],bkgstd [photon],"
                   "uncertainty_xy [nm]\n0,0,650.0,1300.0,130.0,1000,10,0,13.0\n1,3,13.0,26.0,130.0,900,10,0,13.0\n")
    code, out, err = run(capsys, "info", src, "--movie", tmp_path / "m.tif")
    assert code == 0, err
    assert "pixel size: 130 nm (movie" in out and "picasso-csv" in out
    code, out, err = run(capsys, "convert", src, "--pixel-size", "130", "-o", tmp_path / "out.csv")
    assert code == 0, err
    assert deepstorm_rows(tmp_path / "out.csv") == [(1, 715.0, 1365.0), (4, 78.0, 91.0)]


@pytest.mark.parametrize("content, expected", [
    (b'sep=,\r\n"id","frame","x [nm]","y [nm]"\r\n1,1,2,3\r\n', "delimiter line"),  # Excel's hint line
    ("frame\tx [nm]\ty [nm]\n1\t2\t3\n".encode("utf-16"), "UTF-16"),  # Excel's "Unicode Text"
])
def test_spreadsheet_saves_are_named(capsys, tmp_path, content, expected):
    # both were refused with a message about something else ("line 2 has 4 fields where the
    # header has 2", "NUL bytes: binary")
    src = tmp_path / "saved.csv"
    src.write_bytes(content)
    msg = refused(capsys, "info", src, path=src)
    assert expected in msg and "fields" not in msg and "NUL" not in msg


def test_filtered_picasso_export_is_not_taken_for_thunderstorm(capsys, tmp_path):
    # Picasso's export with its first rows filtered out (pandas, index=False): ids no longer start at
    # 0. It was read as ThunderSTORM (frames 1-based, corner origin): one frame and half a pixel off.
    src = tmp_path / "export_filtered.csv"
    src.write_text("id,frame,x [nm],y [nm],sigma [nm],intensity [photon],offset [photon],bkgstd [photon],"
                   "uncertainty_xy [nm]\n3,11,650.0,1300.0,130.0,1000,10,0,13.0\n4,12,13.0,26.0,130.0,900,10,0,13.0\n")
    msg = refused(capsys, "convert", src, "-o", tmp_path / "out.csv", path=src)
    assert "bkgstd" in msg and "--from" in msg
    assert not (tmp_path / "out.csv").exists()
    code, _, err = run(capsys, "convert", src, "--from", "picasso-csv", "--pixel-size", "130", "-o", tmp_path / "p.csv")
    assert code == 0, err
    assert deepstorm_rows(tmp_path / "p.csv") == [(12, 715.0, 1365.0), (13, 78.0, 91.0)]
    code, _, err = run(capsys, "convert", src, "--from", "thunderstorm", "-o", tmp_path / "t.csv")
    assert code == 0, err
    assert deepstorm_rows(tmp_path / "t.csv") == [(11, 650.0, 1300.0), (12, 13.0, 26.0)]
    # a Picasso export converted to ThunderSTORM csv reads back as ThunderSTORM (no all-zero bkgstd kept)
    code, _, err = run(capsys, "convert", tmp_path / "p.csv", "--to", "thunderstorm", "-o", tmp_path / "ts.csv")
    assert code == 0, err
    full = tmp_path / "export.csv"
    full.write_text(src.read_text().replace("\n3,11,", "\n0,11,").replace("\n4,12,", "\n1,12,"))
    code, _, err = run(capsys, "convert", full, "--pixel-size", "130", "--to", "thunderstorm", "-o", tmp_path / "ts2.csv")
    assert code == 0, err
    assert "bkgstd" not in (tmp_path / "ts2.csv").read_text()
    code, _, err = run(capsys, "convert", tmp_path / "ts2.csv", "-o", tmp_path / "back.csv")
    assert code == 0, err
    assert deepstorm_rows(tmp_path / "back.csv") == [(12, 715.0, 1365.0), (13, 78.0, 91.0)]


def test_a_file_cut_off_in_its_last_row_is_said(tmp_path, capsys, caplog):
    """A copy that stopped mid-number still has the right number of fields: the missing line break
    is the only sign, so the read says so (warning + report note) instead of staying silent."""
    from imagesumming.cli import main
    from imagesumming.io import read_locs

    cut = tmp_path / "cut.csv"
    cut.write_text(",frame,x [nm],y [nm]\n1,1,500.25,600\n2,2,512.5,61")  # "...,612.75\n" cut off
    whole = tmp_path / "whole.csv"
    whole.write_text(",frame,x [nm],y [nm]\n1,1,500.25,600\n2,2,512.5,612.75\n")
    _, rep = read_locs(cut)
    assert any("no line break" in n for n in rep.notes)
    _, rep = read_locs(whole)
    assert not any("no line break" in n for n in rep.notes)
    caplog.clear()
    assert main(["info", str(cut)]) == 0
    assert "no line break" in caplog.text + capsys.readouterr().out
    quoted = tmp_path / "quoted.csv"  # the csv-module path (quoted fields) says it too
    quoted.write_text('"id","frame","x [nm]","y [nm]"\n1,1,"500",600\n2,2,5,6')
    _, rep = read_locs(quoted)
    assert any("no line break" in n for n in rep.notes)
