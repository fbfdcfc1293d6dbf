"""The text layer of localization csv files: encoding, header, delimiter and the shape of every row.

A localization csv is read only when its structure is unambiguous (the rules, also in README's
Conventions):

* UTF-8 text (a byte-order mark is allowed); no NUL bytes.
* Line 1 is the header; its delimiter is the one of ``,``, tab, ``;`` that splits it into more
  than one field (exactly one of them must; ThunderSTORM's tab-separated export is read so).
* Every data row has as many fields as the header, or one more that is empty (a trailing
  delimiter, which some tools write); blank lines are skipped. Anything else (a row with fewer or
  more fields: a damaged or truncated file) is refused with its line number, because pandas would
  fill or shift the columns without a word.
* Zeiss Elyra (ZEN) text exports end the table with a NUL byte at the start of a line, followed
  by the acquisition's metadata (``VoxelSizeX : 0.097 \xb5m`` ..., cp1252): the table is read up to
  that NUL and the trailer is ignored (with a note). Any other NUL byte is refused.

Everything here raises :class:`~imagesumming.errors.InputError` with one short line.

:func:`write_columns` writes the other way: the csv text of numeric and text columns, fast.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from pathlib import Path

import numpy as np

from ..errors import InputError

DELIMITERS = (",", "\t", ";")
_NAMES = {",": "comma", "\t": "tab", ";": "semicolon"}
_MAX_HEADER = 1 << 20  # a header line longer than 1 MiB is not a localization table
_CHUNK = 1 << 20
_MAX_LINE = 64 << 20
_NUL = re.compile(rb"\x00")
_LONE_CR = re.compile(rb"\r(?!\n)")


def clip(text, n: int = 48) -> str:
    """``repr`` of a text cut to about ``n`` characters (error messages stay short)."""
    text = str(text)
    return repr(text if len(text) <= n else text[: n - 3] + "...")


@dataclasses.dataclass
class CsvLayout:
    """Header and delimiter of a csv file."""

    labels: list  # header labels, stripped; a trailing empty label (trailing delimiter) removed
    delimiter: str
    data_start: int  # byte offset of line 2
    header_trailing: bool = False
    data_end: int | None = None  # byte offset where the table ends before a metadata trailer (Elyra)
    trailer_line: int | None = None  # line number of that trailer
    unterminated: bool = False  # the last line has no line break (a file cut off mid-number looks like this)

    @property
    def delimiter_name(self) -> str:
        return _NAMES[self.delimiter]


def _decode(raw: bytes, path, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start:exc.start + 1].hex()
        raise InputError(f"not UTF-8 text (byte 0x{byte} in {where}, e.g. a latin-1 or cp1252 file): "
                         "save it as UTF-8", path) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_layout(path: Path) -> CsvLayout:
    """Header labels and delimiter of ``path``, or a one-line InputError saying what is wrong."""
    with open(path, "rb") as fh:
        first = fh.readline(_MAX_HEADER)
    if len(first) >= _MAX_HEADER and not first.endswith(b"\n"):
        raise InputError("first line is longer than 1 MiB: not a localization csv (binary file?)", path)
    if first.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode Text", Windows tools
        raise InputError("UTF-16 text (e.g. Excel's 'Unicode Text'): save it as UTF-8 csv", path)
    if b"\x00" in first:
        raise InputError("contains NUL bytes in line 1: not a text csv file (binary or damaged)", path)
    text = _decode(first, path, "line 1").rstrip("\r\n")
    if "\r" in text:
        raise InputError("line 1 holds a carriage return inside the line: damaged csv file (or old Mac line ends)",
                         path)
    if not text.strip():
        raise InputError("csv file has no header line (line 1 is empty)", path)
    if text.lstrip().startswith("# <localizations"):
        raise InputError("rapidSTORM file (XML header line): not supported", path,
                         hint="export the localizations as a ThunderSTORM csv, or as a csv with a header row "
                              "and read it with {columns}")
    if re.fullmatch(r"\s*sep=.?\s*", text, flags=re.IGNORECASE):
        raise InputError(f"line 1 {clip(text.strip(), 10)} is Excel's delimiter line, not the header row: remove it",
                         path)
    if text.lstrip().startswith("#"):  # DECODE writes 3 such lines; ThunderSTORM and Picasso none
        raise InputError(f"line 1 is a comment ({clip(text.strip(), 40)}), not the header row: remove the "
                         "comment lines above the column names", path)
    splits = {}
    for d in DELIMITERS:
        try:
            fields = next(csv.reader([text], delimiter=d, strict=True))
        except csv.Error:
            continue
        if len(fields) > 1:
            splits[d] = fields
    if not splits:
        try:
            only = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            raise InputError(f"cannot parse the csv header ({exc})", path) from None
        if len(only) == 1 and any(d in only[0] for d in DELIMITERS) and text.lstrip().startswith(('"', "'")):
            raise InputError(f"the header is one quoted field ({clip(only[0], 40)}): each line is quoted whole; "
                             "remove the quotes around the lines (a spreadsheet export?)", path)
        raise InputError(f"header {clip(text, 60)} is not split by a comma, tab or semicolon: not a "
                         "localization csv", path)
    if len(splits) > 1:  # a delimiter inside a quoted label does not split it: this header really mixes them
        names = " and ".join(_NAMES[d] for d in splits)
        raise InputError(f"header {clip(text, 50)} mixes {names} delimiters: save it with one delimiter", path)
    delim, fields = next(iter(splits.items()))
    labels = [f.strip() for f in fields]
    if all(_is_number(f) for f in labels if f) and sum(1 for f in labels if f) > 1:
        # a file without a header: its first localization would be taken for the column names
        raise InputError(f"line 1 holds numbers ({clip(text, 40)}), not column names: the file has no header "
                         "row; add one (e.g. frame,x [nm],y [nm])", path)
    trailing = len(labels) > 2 and labels[-1] == ""
    if trailing:
        labels = labels[:-1]
    return CsvLayout(labels, delim, len(first), trailing)


def check_rows(path: Path, layout: CsvLayout) -> bool:
    """Check that every data row has the header's number of fields (see the module docstring).

    Returns True when some row ends with a trailing delimiter. Quoted data fields (rare in
    localization files) are checked with the csv module; otherwise numpy counts the delimiters of
    every line, 1 MiB at a time.
    """
    n = len(layout.labels)
    d = ord(layout.delimiter)
    trailing = False
    line = 2  # physical line number of the first line of a block
    with open(path, "rb") as fh:
        fh.seek(layout.data_start)
        carry = b""
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk and not carry:
                break
            buf = carry + chunk
            if chunk:
                cut = buf.rfind(b"\n") + 1
                if cut == 0:
                    if len(buf) > _MAX_LINE:
                        raise InputError(f"line {line} is longer than 64 MiB: not a localization csv (binary file?)",
                                         path)
                    carry = buf
                    continue
                body, carry = buf[:cut], buf[cut:]
            else:
                layout.unterminated = bool(buf.strip())
                body, carry = buf + b"\n", b""
            a = np.frombuffer(body, np.uint8)
            if (a == 0).any():
                i = int(np.argmax(a == 0))
                bad = line + int(np.count_nonzero(a[:i] == 10))
                if (i == 0 or a[i - 1] == 10) and _elyra_trailer(path, layout, i, buf, fh):
                    layout.trailer_line = bad
                    body, carry, chunk = body[:i], b"", b""
                    a = a[:i]
                    if not a.size:
                        break
                else:
                    raise InputError(f"contains NUL bytes (line {bad}): not a text csv file (binary or damaged)",
                                     path)
            ends = np.flatnonzero(a == 10)
            crs = np.flatnonzero(a == 13)
            if crs.size and not np.isin(crs + 1, ends).all():
                i = int(crs[~np.isin(crs + 1, ends)][0])
                bad = line + int(np.count_nonzero(a[:i] == 10))
                raise InputError(f"line {bad} holds a carriage return inside the line: damaged csv file", path)
            if (a == ord('"')).any():
                return _check_rows_quoted(path, layout)
            starts = np.concatenate(([0], ends[:-1] + 1))
            fields = np.add.reduceat((a == d).view(np.uint8), starts, dtype=np.int64) + 1
            last = ends - 1
            cr = (ends > starts) & (a[np.maximum(last, 0)] == 13)
            last = last - cr
            blank = last < starts
            last_is_delim = ~blank & (a[np.maximum(last, 0)] == d)
            extra = (fields == n + 1) & last_is_delim
            ok = blank | (fields == n) | extra
            if not ok.all():
                i = int(np.argmin(ok))
                raise InputError(f"line {line + i} has {fields[i]} fields where the header has {n}: "
                                 "damaged or truncated csv file", path)
            trailing = trailing or bool(extra.any())
            line += len(ends)
            if layout.data_end is not None:
                break
    return trailing


_TRAILER_MAX = 1 << 20
_TRAILER_LINE = re.compile(rb"^[A-Za-z][^\t,;:]* : ")


def _elyra_trailer(path, layout: CsvLayout, i: int, buf: bytes, fh) -> bool:
    """True (and ``layout.data_end`` set) when the NUL at ``buf[i]`` starts a Zeiss Elyra metadata
    trailer: a NUL at the start of a line, then at most 1 MiB of ``Key : value`` lines holding
    ``VoxelSizeX`` and no other NUL (a row after it would be a damaged table, not a trailer)."""
    pos = fh.tell() - len(buf) + i  # file offset of the NUL (buf ends where the file was read to)
    with open(path, "rb") as g:
        g.seek(pos)
        rest = g.read(_TRAILER_MAX + 1)
    if len(rest) > _TRAILER_MAX or rest.count(b"\x00") != 1 or b"VoxelSizeX" not in rest:
        return False
    lines = [ln for ln in rest[1:].replace(b"\r", b"\n").split(b"\n") if ln.strip()]
    if not all(_TRAILER_LINE.match(ln) for ln in lines):  # rows after it: not a trailer
        return False
    layout.data_end = pos
    return True


def _check_rows_quoted(path: Path, layout: CsvLayout) -> bool:
    n = len(layout.labels)
    trailing = False
    with open(path, "rb") as fh:
        raw = fh.read(layout.data_end) if layout.data_end is not None else fh.read()
    for pattern, what in ((_NUL, "NUL bytes"), (_LONE_CR, "a carriage return inside the line")):
        m = pattern.search(raw)
        if m:
            line = raw.count(b"\n", 0, m.start()) + 1
            raise InputError(f"line {line} holds {what}: damaged csv file", path)
    layout.unterminated = bool(raw.strip()) and not raw.endswith(b"\n") and layout.data_end is None
    text = _decode(raw, path, "the file")
    rows = csv.reader(_lines_after_header(text), delimiter=layout.delimiter, strict=True)
    try:
        for row in rows:
            if not row:
                continue
            if any("\n" in f or "\r" in f for f in row):
                raise InputError(f"line {rows.line_num + 1}: a quoted field holds a line break: damaged csv file",
                                 path)
            if len(row) == n + 1 and row[-1] == "":
                trailing = True
            elif len(row) != n:
                raise InputError(f"line {rows.line_num + 1} has {len(row)} fields where the header has {n}: "
                                 "damaged or truncated csv file", path)
    except csv.Error as exc:
        raise InputError(f"cannot parse csv line {rows.line_num + 1} ({exc})", path) from None
    return trailing


def _lines_after_header(text: str):
    buf = io.StringIO(text, newline="")
    buf.readline()
    return buf


def write_columns(path, columns: dict) -> None:
    """Write columns (1-D arrays of one length, keyed by header label) as a comma-separated csv.

    Whole numbers as digits, floats as Python's shortest exact repr and NaN as an empty field (the
    text pandas writes by default; -0.0 as 0.0); text as the csv module writes it (quoted where it must be),
    None as an empty field. The same bytes as ``csv.writer``, in a fraction of the time: the
    summing writes thousands of rows on every run.
    """
    texts = []
    for values in columns.values():
        values = np.asarray(values)
        if values.dtype.kind in "fiub":
            # each distinct value formatted once (float repr is the slow part; a summed set repeats every
            # patch's localizations in several frames); + 0.0: -0.0 is written as 0.0
            if values.dtype.kind == "f":
                values = values + 0.0
            distinct, where = np.unique(values, return_inverse=True)
            if len(distinct) > len(values) // 2:  # mostly distinct: formatting each value is quicker
                distinct, where = values, None
            text = ["" if v != v else repr(v) for v in distinct.tolist()] if values.dtype.kind == "f" else \
                list(map(repr, distinct.tolist()))
            texts.append(text if where is None else np.array(text, dtype=object)[where.ravel()].tolist())
        else:  # text: each distinct value quoted once, as the csv module would
            items = values.tolist()
            if not set(map(type, items)) <= {str, type(None)}:  # 1, 1.0 and True hash equal: no shared texts
                texts.append(list(map(_csv_field, items)))
                continue
            quoted = {v: _csv_field(v) for v in set(items)}
            texts.append([quoted[v] for v in items])
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(",".join(map(_csv_field, columns)) + "\n")
        if texts and texts[0]:
            fh.write("\n".join(map(",".join, zip(*texts))))
            fh.write("\n")


def _csv_field(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):  # numpy's float64 too: its repr is np.float64(...)
        return "" if value != value else repr(float(value))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([value])
    return buf.getvalue()[:-1]
