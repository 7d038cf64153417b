"""Hostile input: files a clinic export really arrives as, and some an attacker could craft.

Each case checks two things: the message is clear (it names the file and,
for a row, its line, column, value and rule), and no valid row is lost (the
good rows are counted exactly; each bad row is quarantined with its reason).
Cases already covered in test_load.py and test_mapping.py (a 0-byte file,
a PNG renamed .csv, UTF-8 with a BOM, one mixed UTF-8/Windows-1252 file,
Excel date cells) are not repeated; these go further.
"""

from __future__ import annotations

import codecs
import datetime as dt
import random
import re
import textwrap
import tracemalloc
import unicodedata
import warnings
import zipfile
from types import SimpleNamespace

import pandas as pd
import pytest

from needling_analytics import DataQualityWarning, load_clinic
from needling_analytics.errors import MappingError, MissingColumnsError, NothingKeptError, UnreadableFileError
from needling_analytics.load import RULES
from needling_analytics.load.mapping import TableMapping
from needling_analytics.load.read import MAX_FIELD_CHARS, MAX_LINE_BYTES, read_table

from .conftest import AS_OF, VALID, write_clinic

HEADERS = {name: textwrap.dedent(text).strip().splitlines()[0] for name, text in VALID.items()}
ROWS = {name: textwrap.dedent(text).strip().splitlines()[1:] for name, text in VALID.items()}


def load(folder, mapping=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return load_clinic(folder, mapping, as_of=AS_OF)


def counts(clinic, table: str) -> list[int]:
    """``[rows_read, rows_kept, rows_quarantined]`` of one table."""
    summary = clinic.quality.tables.set_index("table").loc[table]
    return summary[["rows_read", "rows_kept", "rows_quarantined"]].tolist()


def notes(clinic, table: str) -> str:
    return clinic.quality.tables.set_index("table").loc[table, "notes"]


def problem(clinic, table: str, line: int) -> pd.Series:
    """The one problem of ``table`` at ``line``."""
    found = clinic.quality.problems.query("table == @table and line == @line")
    assert len(found) == 1, clinic.quality.problems.to_string()
    return found.iloc[0]


def csv_text(name: str, rows, *, newline: str = "\n", header: str | None = None) -> str:
    return newline.join([header or HEADERS[name], *rows]) + newline


# -- 1-3: files that are not a table at all ----------------------------------


def _xlsx_bytes() -> bytes:
    from io import BytesIO

    from openpyxl import Workbook

    book = Workbook()
    book.active.append(HEADERS["patients"].split(","))
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


_RANDOM = random.Random(7)
REFUSED = [
    # (file name, content, pattern the message must match after "<file>: ")
    ("patients.csv", b"\n\n\n\n", r"the file is empty: not even a header row"),
    ("patients.csv", b" \t \r\n\r\n   \r\n", r"the file is empty"),
    ("patients.csv", b"\xef\xbb\xbf\r\n", r"the file is empty"),  # a BOM and nothing else
    ("patients.csv", bytes(_RANDOM.randrange(256) for _ in range(4000)), r"binary data, not text"),
    # binary with no NUL (and a PDF, below) used to be parsed as CSV: a junk header, then a MissingColumnsError
    ("patients.csv", bytes(_RANDOM.randrange(1, 256) for _ in range(4000)), r"binary data, not text"),
    ("patients.csv", _xlsx_bytes(), r"binary data, not text: it is a ZIP archive \(an \.xlsx workbook is one\)"),
    ("patients.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", r"binary data, not text: it is a PDF document"),
    (
        "patients.csv",
        HEADERS["patients"].encode("utf-16-le") + b"\n\x00",
        r"looks like UTF-16 text without a byte-order mark.*\n.*save it as 'CSV UTF-8'",
    ),
    # a UTF-16 file cut in the middle of a character used to raise a raw UnicodeDecodeError
    (
        "patients.csv",
        textwrap.dedent(VALID["patients"]).lstrip().encode("utf-16")[:-1],
        r"not valid utf-16-le text \(truncated data\).*\n.*save it as 'CSV UTF-8'",
    ),
    ("patients.xlsx", b"", r"the file is empty"),
    ("patients.xlsx", textwrap.dedent(VALID["patients"]).encode(), r"the file is text, not an Excel workbook.*\n.*rename it to \.csv"),
    ("patients.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), r"an old-style Excel \(\.xls\) workbook.*\n.*save it as \.xlsx"),
    ("patients.xlsx", b"PK\x03\x04" + bytes(100), r"not a readable Excel workbook \(BadZipFile"),
    ("patients.csv", HEADERS["patients"].replace(",", ',"', 1).encode() + b"\n0012\n", r"the header row \(line 1\) cannot be read: a quote"),
]  # fmt: skip


@pytest.mark.parametrize(("file", "content", "message"), REFUSED, ids=[f"{i}-{c[0]}" for i, c in enumerate(REFUSED)])
def test_a_file_that_is_not_a_table_is_refused_naming_it(tmp_path, file, content, message):
    folder = write_clinic(tmp_path / "clinic", {**VALID, "patients": None})
    (folder / file).write_bytes(content)
    with pytest.raises(UnreadableFileError) as caught:
        load(folder)
    text = str(caught.value)
    assert text.startswith(f"{folder / file}: "), text
    assert re.search(message, text), text
    assert "What to do:" in text  # every refusal says how to fix it
    assert caught.value.path == folder / file


def test_unknown_encoding_and_sheet_in_a_mapping_are_input_errors(make_clinic):
    folder = make_clinic()
    # a misspelt encoding used to raise a raw LookupError
    with pytest.raises(
        UnreadableFileError, match=r"patients.csv: unknown encoding 'utf8x'\n.*What to do: set `encoding`"
    ):
        load(folder, {"encoding": "utf8x"})
    (folder / "patients.csv").unlink()
    (folder / "patients.xlsx").write_bytes(_xlsx_bytes())
    for sheet in ("Visits", 3):  # a position out of range used to raise a raw IndexError
        with pytest.raises(
            UnreadableFileError, match=rf"patients.xlsx: has no sheet {sheet!r}; its sheets are \['Sheet'\]"
        ):
            load(folder, {"tables": {"patients": {"sheet": sheet}}})


def test_header_only_tables_load_empty_and_their_children_say_why(make_clinic):
    # a required table with only its header (CRLF, then a blank line), and a header-only workbook sheet
    folder = make_clinic(sessions=HEADERS["sessions"] + "\r\n\r\n", proms=None)
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(HEADERS["proms"].split(","))
    book.save(folder / "proms.xlsx")
    # a required table without rows would make every figure wrong: the load stops (exit 2), with its report
    with pytest.raises(NothingKeptError, match=r"table 'sessions' has no rows") as caught:
        load(folder)
    report = SimpleNamespace(quality=caught.value.quality)
    assert counts(report, "sessions") == [0, 0, 0] and counts(report, "proms") == [0, 0, 0]
    assert "the file has a header but no rows" in notes(report, "sessions")
    # rows pointing at the missing sessions are quarantined, each with its reason; nothing else is lost
    assert counts(report, "rom") == [2, 0, 2] and counts(report, "adverse_events") == [1, 0, 1]
    assert set(report.quality.problems["rule"]) == {"unknown_session"}
    assert counts(report, "episodes") == [2, 2, 0] and counts(report, "journal") == [2, 2, 0]


# -- 4: a huge field -------------------------------------------------------------


def test_a_huge_field_is_quarantined_cut_short_with_bounded_memory(make_clinic, tmp_path):
    """A 48 MB cell on one line, and a 300,000-character quoted cell over several lines.

    The loader reads a line longer than MAX_LINE_BYTES without ever holding
    it whole, keeps only the start of the field, and quarantines its row
    with the field's column named; the other values of the row, and every
    other row, are kept.
    """
    folder = make_clinic()
    rows = ROWS["sessions"]
    path = folder / "sessions.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(HEADERS["sessions"] + "\n" + rows[0] + "\n")
        handle.write("S2,E1,0012,PR1,2026-01-12,09:30,attended,5,4,3,")  # line 3
        chunk = "é" + "x" * (1 << 20)  # a two-byte character at each 1 MiB: the cut must not split one
        for _ in range(48):
            handle.write(chunk)
        handle.write(",no\n")
        handle.write('S3,E1,0012,PR1,2026-01-19,10:00,cancelled,,,,"' + ("y" * 99_999 + "\n") * 3 + '",\n')  # 4-7
        handle.write("S4,E2,P2,PR2,2026-02-02,14:00,attended,6,5,5,multifidus,yes\n")  # line 8
        handle.write("S5,E2,P2,PR2,2026-02-09,14:00,attended,66,5,5,multifidus,yes\n")  # line 9
    assert path.stat().st_size > 48_000_000
    # memory is measured while the file is read (tracing all of load_clinic would triple its time);
    # once read, the field is a 200-character preview
    tracemalloc.start()
    try:
        raw = read_table(path, "sessions", TableMapping())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"peak {peak / 1e6:.0f} MB while reading: the huge field was held in memory"
    assert raw.frame.map(len).to_numpy().max() <= 210
    clinic = load(folder)
    assert counts(clinic, "sessions") == [5, 3, 2]  # S5's impossible pain is cleared, the visit kept
    assert clinic.sessions["session_id"].tolist() == ["S1", "S4", "S5"]
    for line, column, length in [(3, "muscles", 48 * (1 << 20)), (4, "muscles", 300_000)]:
        hit = problem(clinic, "sessions", line)
        assert (hit["column"], hit["rule"]) == (column, "field_too_long")
        assert hit["reason"].startswith(f"field longer than {MAX_FIELD_CHARS:,} characters (about ")
        assert int(re.search(r"about ([\d,]+)", hit["reason"]).group(1).replace(",", "")) >= length
        assert len(hit["value"]) <= 210
    assert problem(clinic, "sessions", 9)[["rule", "action"]].tolist() == [
        "out_of_range",
        "cleared",
    ]  # lines stay right
    rom = problem(clinic, "rom", 3)
    assert "session_id 'S2' was quarantined in sessions" in rom["reason"]  # the row's own ID survived the cut
    paths = clinic.quality.write(tmp_path / "out")
    assert paths["quarantine/sessions"].stat().st_size < 10_000
    quarantine = pd.read_csv(paths["quarantine/sessions"], dtype=str, keep_default_na=False)
    first = quarantine.iloc[0]
    assert (first["session_id"], first["twitch_response"], first["line"]) == ("S2", "no", "3")
    assert first["muscles"].startswith("éxxx") and len(first["muscles"]) <= 210
    assert quarantine.map(len).to_numpy().max() <= 210


def test_a_long_line_of_short_fields_is_a_malformed_record(make_clinic):
    """A line over MAX_LINE_BYTES whose fields are each under MAX_FIELD_CHARS.

    The middle of the line is not read, so the record is incomplete, yet no
    single field is too long: the whole record is quarantined as malformed.
    """
    extra = [f"x{i}" for i in range(30)]
    fields = ["y" * 40_000] * len(extra)
    header = ",".join([HEADERS["patients"], *extra])
    patients = csv_text("patients", [*ROWS["patients"], ",".join(["P3,1970,F,,,", *fields])], header=header)
    clinic = load(make_clinic(patients=patients))
    assert counts(clinic, "patients") == [3, 2, 1]
    hit = problem(clinic, "patients", 4)
    assert (hit["column"], hit["rule"]) == ("(whole record)", "malformed_record")
    assert re.fullmatch(
        rf"the line is longer than {MAX_LINE_BYTES:,} bytes; [\d,]+ bytes of it were not read", hit["reason"]
    )


def test_a_huge_parquet_cell_is_quarantined_as_field_too_long(make_clinic):
    folder = make_clinic(journal=None)
    journal = pd.DataFrame(
        {
            "patient_id": ["0012", "0012"],
            "entry_date": pd.to_datetime(["2026-01-06", "2026-01-07"]),
            "pain": [6, 5],
            "activity_note": ["", "z" * (MAX_FIELD_CHARS + 1)],
        }
    )
    journal.to_parquet(folder / "journal.parquet")
    clinic = load(folder)
    assert counts(clinic, "journal") == [2, 1, 1]
    hit = problem(clinic, "journal", 2)
    assert (hit["column"], hit["rule"], hit["value"]) == ("activity_note", "field_too_long", "z" * 200 + "...")
    assert hit["reason"].startswith(f"field longer than {MAX_FIELD_CHARS:,} characters (about {MAX_FIELD_CHARS + 1:,})")


# -- 5: encodings -----------------------------------------------------------------


def test_mixed_encodings_and_utf16_read_the_same_values(make_clinic):
    folder = make_clinic()
    # sessions: UTF-8 and Windows-1252 lines mixed; the same practitioner in both must be one ID
    lines = [HEADERS["sessions"], *ROWS["sessions"]]
    lines[1] = lines[1].replace("PR1", "Dr Müller")
    lines[2] = lines[2].replace("PR1", "Dr Müller")
    body = b"".join((line + "\n").encode("cp1252" if i == 2 else "utf-8") for i, line in enumerate(lines))
    (folder / "sessions.csv").write_bytes(body)
    # patients: Excel's "Unicode text" export, UTF-16 with a BOM, tab-separated, CRLF
    text = textwrap.dedent(VALID["patients"]).strip().replace(",", "\t").replace("Ana", "Zoë")
    (folder / "patients.csv").write_bytes((text.replace("\n", "\r\n") + "\r\n").encode("utf-16"))
    # journal: big-endian UTF-16 with its BOM
    (folder / "journal.csv").write_bytes(
        codecs.BOM_UTF16_BE + textwrap.dedent(VALID["journal"]).lstrip().encode("utf-16-be")
    )
    clinic = load(folder)
    assert clinic.quality.is_clean, clinic.quality.problems
    assert counts(clinic, "sessions") == [4, 4, 0] and counts(clinic, "patients") == [2, 2, 0]
    assert counts(clinic, "journal") == [2, 2, 0]
    assert clinic.sessions["practitioner_id"].tolist()[:2] == ["Dr Müller", "Dr Müller"]
    assert "1 line(s) were not UTF-8 and were read as Windows-1252 (lines 3)" in notes(clinic, "sessions")
    assert clinic.patients["first_name"].tolist() == ["Zoë", "Bob"]
    assert clinic.patients["postcode"].tolist() == ["02134", "10001"]
    assert "fields are separated by '\\t'" in notes(clinic, "patients")


# -- 6: unbalanced quotes ------------------------------------------------------------


def test_an_unclosed_quote_costs_one_row_not_the_rest_of_the_file(make_clinic):
    """A quote opened on line 3 and never closed.

    The CSV reader would take everything to the end of the file as one
    field. The loader notices the quote is still open at the end of the
    file, quarantines the line that opened it, and reads on from the next
    line, so the rows after it are kept with their own line numbers.
    """
    rows = ROWS["sessions"]
    sessions = csv_text(
        "sessions",
        [rows[0], 'S2,E1,0012,PR1,2026-01-12,09:30,attended,5,4,3,"upper trapezius,no', rows[2], rows[3],
         "S5,E2,P2,PR2,2026-02-09,14:00,attended,66,5,5,multifidus,yes"],
    )  # fmt: skip
    # a genuine multi-line note with commas must still be one field
    events = csv_text("adverse_events", ['S1,0012,bruising,mild,4,"small bruise, left side\nfaded, by day 4"'])
    clinic = load(make_clinic(sessions=sessions, adverse_events=events))
    assert counts(clinic, "sessions") == [5, 4, 1]
    assert clinic.sessions["session_id"].tolist() == ["S1", "S3", "S4", "S5"]
    hit = problem(clinic, "sessions", 3)
    assert (hit["column"], hit["rule"]) == ("(whole record)", "malformed_record")
    assert (
        hit["reason"]
        == 'a quote (") opened on line 3 is not closed before the end of the file; reading resumed on line 4'
    )
    assert problem(clinic, "sessions", 6)["rule"] == "out_of_range"
    assert "S2' was quarantined in sessions" in problem(clinic, "rom", 3)["reason"]
    assert counts(clinic, "adverse_events") == [1, 1, 0]
    assert clinic.adverse_events["notes"].iloc[0] == "small bruise, left side\nfaded, by day 4"


def test_an_unclosed_quote_closed_by_a_later_quote_does_not_swallow_rows(make_clinic):
    """The open quote on line 3 is closed by the quote of a legitimate field on line 6.

    The CSV reader then makes lines 3-6 one record with exactly the
    header's number of fields, silently losing S3 and S4. The loader sees
    that the lines inside the "field" are rows of their own and reads them
    as such. (A genuine quoted field whose continuation lines each hold a
    whole row's worth of fields would be split the same way; that is the
    honest limit of guessing where a quote should have closed.)
    """
    rows = ROWS["sessions"]
    sessions = csv_text(
        "sessions",
        [rows[0], 'S2,E1,0012,PR1,2026-01-12,09:30,attended,5,4,3,"upper trapezius,no', rows[2], rows[3],
         'S5,E2,P2,PR2,2026-02-09,14:00,attended,4,3,5,"multifidus,gluteus medius",yes'],
    )  # fmt: skip
    clinic = load(make_clinic(sessions=sessions))
    assert counts(clinic, "sessions") == [5, 4, 1]
    assert clinic.sessions["session_id"].tolist() == ["S1", "S3", "S4", "S5"]
    assert clinic.sessions["muscles"].tolist()[-1] == "multifidus,gluteus medius"
    assert "the lines after it look like rows of their own" in problem(clinic, "sessions", 3)["reason"]


# -- 7: Excel -------------------------------------------------------------------------


def _workbook(path, sheets, *, hidden=(), merged=(), cached=None):
    """Write an .xlsx: ``sheets`` maps title to rows; ``cached`` gives formula results by cell.

    openpyxl never stores a formula's result, as Excel does on saving, so
    ``cached`` patches the results into the sheet XML.
    """
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        sheet.sheet_state = "hidden" if title in hidden else "visible"
    for title, ranges in dict(merged).items():
        book[title].merge_cells(ranges)
    book.active = next(i for i, t in enumerate(sheets) if t not in hidden)
    book.save(path)
    if cached:
        index = list(sheets).index(cached[0]) + 1
        with zipfile.ZipFile(path) as source:
            parts = {name: source.read(name) for name in source.namelist()}
        name = f"xl/worksheets/sheet{index}.xml"
        xml = parts[name].decode()
        for cell, value in cached[1].items():
            kind = "" if isinstance(value, (int, float)) else ' t="str"'
            xml = re.sub(
                rf'<c r="{cell}"([^>]*)><f>(.*?)</f><v\s*/>', rf'<c r="{cell}"\1{kind}><f>\2</f><v>{value}</v>', xml
            )
        parts[name] = xml.encode()
        with zipfile.ZipFile(path, "w") as target:
            for part, data in parts.items():
                target.writestr(part, data)


def test_excel_sheets_merged_cells_formulas_and_dates(make_clinic, tmp_path):
    folder = make_clinic(episodes=None, proms=None)
    header = ["Episode ID", "Patient ID", "Start date", "End date", "Body region", "Condition"]
    _workbook(
        folder / "episodes.xlsx",
        {
            "Lookup": [["body regions"], ["neck"]],  # hidden, and first: never the one read
            "Export": [
                header,
                ["E1", "0012", dt.datetime(2026, 1, 5, 8, 30), dt.date(2026, 3, 1), "neck", '=CONCAT("neck ","pain")'],
                ["E2", "P2", "2026-02-02", None, "low back", "=1/0"],
                ["E3", None, 46054, None, "knee", '=HYPERLINK("http://evil","x")'],
                ["E4", "=A1", dt.datetime(2026, 4, 1), None, "knee", "=cmd|' /C calc'!A0"],
                ["E5", "P2", dt.datetime(2026, 5, 1), None, "sholder", "=cmd|' /C calc'!A0"],
            ],
            "Notes": [["exported by PMS 4.2"]],
        },
        hidden={"Lookup"},
        merged={"Export": "B3:B4"},  # P2 merged over E2 and E3, as someone grouping rows by patient would
        cached=("Export", {"F2": "neck pain", "F3": "#DIV/0!", "B5": "Episode ID"}),
    )
    # the same data as proms, read with `sheet` given by position
    _workbook(
        folder / "proms.xlsx",
        {"Cover": [["PROMs"]], "Data": [HEADERS["proms"].split(","), ["0012", "E1", dt.date(2026, 1, 5), "NDI", 20]]},
    )
    clinic = load(folder, {"tables": {"proms": {"sheet": 1}}})
    assert "read sheet 'Export'; other sheets ignored: ['Lookup', 'Notes']." in notes(clinic, "episodes")
    assert "merged cells ['B3:B4'] were read as their value repeated in every cell." in notes(clinic, "episodes")
    assert counts(clinic, "proms") == [1, 1, 0] and "read sheet 'Data'" in notes(clinic, "proms")
    assert counts(clinic, "episodes") == [5, 4, 1]
    episodes = clinic.episodes.set_index("episode_id")
    assert episodes.index.tolist() == ["E1", "E2", "E3", "E5"]
    # formulas: the result Excel saved is read; the formula itself never is
    assert episodes.loc["E1", "condition"] == "neck pain"
    assert episodes.loc["E2", "condition"] == "#DIV/0!"  # an error result is text, kept as written
    assert episodes.loc["E1", "start_date"] == pd.Timestamp("2026-01-05")  # a date cell; its time dropped
    assert episodes.loc["E2", "start_date"] == pd.Timestamp("2026-02-02")  # an ISO text date
    # E3: the merged patient was filled in, and an Excel serial number typed as a number is that date
    assert episodes.loc["E3", "start_date"] == pd.Timestamp(dt.date(1899, 12, 30) + dt.timedelta(days=46054))
    # E4: a formula with a cached result ('Episode ID') is that text: it is not a known patient
    assert (problem(clinic, "episodes", 5)["rule"], problem(clinic, "episodes", 5)["value"]) == (
        "unknown_patient",
        "Episode ID",
    )
    assert problem(clinic, "episodes", 6)[["rule", "action"]].tolist() == ["not_allowed", "cleared"]
    # a formula without a saved result reads as blank: never as its text, anywhere
    for frame in (clinic.episodes, clinic.quality.problems, clinic.quality.quarantine["episodes"]):
        assert not re.search(r"(^|,)=|CONCAT|HYPERLINK|cmd\|", frame.to_csv(index=False), flags=re.M)
    assert pd.isna(episodes.loc["E5", "condition"])
    assert episodes.loc["E3", "patient_id"] == "P2"
    paths = clinic.quality.write(tmp_path / "out")
    quarantine = pd.read_csv(paths["quarantine/episodes"], dtype=str, keep_default_na=False)
    assert quarantine["episode_id"].tolist() == ["E4"]


def test_excel_with_the_table_on_a_later_sheet_names_the_sheet_it_read(make_clinic):
    folder = make_clinic(patients=None)
    rows = [HEADERS["patients"].split(","), *[r.split(",") for r in ROWS["patients"]]]
    _workbook(folder / "patients.xlsx", {"Read me": [["exported by PMS 4.2"]], "Patients": rows})
    with pytest.raises(MissingColumnsError) as caught:
        load(folder)
    message = str(caught.value)
    assert "patients.xlsx: table 'patients' lacks required column(s) ['patient_id']" in message
    assert "sheet 'Read me' (sheets: ['Read me', 'Patients']) has ['exported by PMS 4.2']" in message
    assert "name the sheet to read with `sheet`" in message
    clinic = load(folder, {"tables": {"patients": {"sheet": "Patients"}}})
    assert counts(clinic, "patients") == [2, 2, 0]
    assert clinic.patients["patient_id"].tolist() == ["0012", "P2"]  # text cells keep their leading zeros


# -- 8: column names and order --------------------------------------------------------------


@pytest.fixture(scope="module")
def valid_clinic(tmp_path_factory):
    return load(write_clinic(tmp_path_factory.mktemp("valid"), VALID))


def test_shuffled_columns_give_the_identical_clinic(valid_clinic, tmp_path):
    shuffled = {}
    rng = random.Random(3)
    for name in VALID:
        frame = pd.read_csv(valid_clinic.data_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        columns = list(frame.columns)
        rng.shuffle(columns)
        shuffled[name] = frame[columns[::-1] if columns == list(frame.columns) else columns].to_csv(index=False)
    clinic = load(write_clinic(tmp_path / "shuffled", shuffled))
    assert clinic.quality.is_clean
    for name in VALID:
        pd.testing.assert_frame_equal(clinic.tables[name], valid_clinic.tables[name], check_exact=True)


def test_duplicate_blank_and_unknown_columns_are_kept_aside_with_a_note(make_clinic):
    rows = ROWS["sessions"]
    header = HEADERS["sessions"] + ",pain_pre,Room,,"
    sessions = csv_text("sessions", [r + f",{9 - i},R{i},," for i, r in enumerate(rows)], header=header)
    clinic = load(make_clinic(sessions=sessions))
    assert counts(clinic, "sessions") == [4, 4, 0]
    assert clinic.sessions["pain_pre"].tolist()[:2] == [7.0, 5.0]  # the first copy is the one used
    note = notes(clinic, "sessions")
    assert "column 'pain_pre' appears 2 times; copy 2 is read as 'pain_pre (2)'" in note
    assert (
        "columns not in the data model were kept as they are: ['pain_pre (2)', 'Room', '(blank)', '(blank) (2)']"
        in note
    )
    assert clinic.sessions["Room"].tolist() == ["R0", "R1", "R2", "R3"]
    # two spellings of one column are refused rather than one chosen silently
    text = VALID["patients"].replace("postcode\n", "postcode,Patient ID\n")
    with pytest.raises(
        MappingError, match=r"patients.csv: columns 'patient_id' and 'Patient ID' both become 'patient_id'"
    ):
        load(make_clinic(patients=text))


# -- 9: identifiers ---------------------------------------------------------------------------


def test_unicode_ids_join_whatever_invisible_characters_surround_them(make_clinic):
    """IDs are trimmed of whitespace (non-breaking and ideographic spaces included)
    and of zero-width characters, have zero-width characters removed, and are
    put in Unicode NFC, so that ``Zoë`` typed on a Mac still matches. IDs
    that differ visibly stay different."""
    nfd = unicodedata.normalize("NFD", "Zoë-01")
    patients = csv_text("patients", [*ROWS["patients"], "Zoë-01,1990,F,,,", "Zoe-01,1991,M,,,", "患者7,1985,F,,,",
                                     "\u00a0\u200b,1970,F,,,"])  # fmt: skip
    episodes = csv_text("episodes", [*ROWS["episodes"], f"E3,\u00a0{nfd} ,2026-03-01,,knee,,,", "E4,\u200b患者7\u3000,2026-03-01,,knee,,,",
                                     "E5,Zoe-01,2026-03-01,,knee,,,"])  # fmt: skip
    sessions = csv_text(
        "sessions",
        [*ROWS["sessions"], f"S5, E3\u200b,{nfd},PR1,2026-03-02,,attended\u200b,5,4,,,", "S6,E4,患\u200b者7,PR1,2026-03-02,,attended,5,4,,,",
         "S7,E5,Zoe-01,PR1,2026-03-02,,attended,5,4,,,", "S8,E5,Zoë-01,PR1,2026-03-03,,attended,5,4,,,"],
    )  # fmt: skip
    clinic = load(make_clinic(patients=patients, episodes=episodes, sessions=sessions))
    assert counts(clinic, "patients") == [6, 5, 1]
    assert problem(clinic, "patients", 7)["rule"] == "missing_required"  # an ID of invisible characters is blank
    assert counts(clinic, "episodes") == [5, 5, 0]
    assert counts(clinic, "sessions") == [8, 7, 1]
    assert clinic.patients["patient_id"].tolist() == ["0012", "P2", "Zoë-01", "Zoe-01", "患者7"]
    assert clinic.episodes["patient_id"].tolist()[2:] == ["Zoë-01", "患者7", "Zoe-01"]
    joined = clinic.sessions.merge(clinic.episodes, on="episode_id", suffixes=("", "_episode"))
    assert len(joined) == 7 and (joined["patient_id"] == joined["patient_id_episode"]).all()
    assert clinic.sessions.set_index("session_id").loc["S5", "status"] == "attended"
    hit = problem(clinic, "sessions", 9)  # Zoë is not Zoe: episode E5 belongs to Zoe-01
    assert (hit["rule"], hit["value"]) == ("patient_mismatch", "Zoë-01")


# -- 10: dates --------------------------------------------------------------------------------


def test_dates_in_several_formats_in_one_column(make_clinic):
    """With ``date_format: %d/%m/%Y`` day-first dates are read that way; ISO dates,
    with or without a time and a UTC offset, are always read; impossible dates
    are quarantined with the reason, and an Excel serial number is read as its date."""
    base = "S{},E2,P2,PR2,{},,attended,5,4,,,"
    written = ["2026-03-09", "10/03/2026", "2026-03-11T09:00", "2026-03-12T23:30-05:00", "2026-03-13T09:00:00Z",
               "03/04/2026", "31/02/2026", "46095", "2026-02-30", "12/13/2026"]  # fmt: skip
    sessions = csv_text("sessions", [*ROWS["sessions"], *(base.format(i, d) for i, d in enumerate(written, start=5))])
    # proms have no date_format: offsets that differ between rows used to crash the ISO parser
    proms = csv_text("proms", [*ROWS["proms"], "P2,E2,2026-03-01T10:00+01:00,ODI,30", "P2,E2,2026-03-08T10:00Z,ODI,28"])
    clinic = load(make_clinic(sessions=sessions, proms=proms), {"tables": {"sessions": {"date_format": "%d/%m/%Y"}}})
    assert counts(clinic, "sessions") == [14, 11, 3]
    dates = clinic.sessions.set_index("session_id")["session_date"].dt.strftime("%Y-%m-%d")
    assert dates.loc[["S5", "S6", "S7", "S8", "S9", "S10"]].tolist() == [
        "2026-03-09", "2026-03-10", "2026-03-11", "2026-03-12", "2026-03-13", "2026-04-03",
    ]  # fmt: skip
    # an Excel serial number in a CSV date column is the day it counts from 1899-12-30
    assert dates.loc["S12"] == str(dt.date(1899, 12, 30) + dt.timedelta(days=46095))
    for line, value in [(12, "31/02/2026"), (14, "2026-02-30"), (15, "12/13/2026")]:
        hit = problem(clinic, "sessions", line)
        assert (hit["column"], hit["value"], hit["rule"]) == ("session_date", value, "not_a_date")
        assert hit["reason"] == f"'{value}' is not a date written %d/%m/%Y or as an ISO date such as 2026-03-09"
    assert counts(clinic, "proms") == [4, 4, 0]
    assert clinic.proms["completed_on"].dt.strftime("%Y-%m-%d").tolist()[2:] == ["2026-03-01", "2026-03-08"]


# -- 11: line endings ---------------------------------------------------------------------------


def test_crlf_quoted_newlines_and_no_final_newline_keep_line_numbers_right(make_clinic):
    rows = ROWS["sessions"]
    sessions = "\r\n".join(
        [
            HEADERS["sessions"],
            rows[0],
            'S2,E1,0012,PR1,2026-01-12,09:30,attended,5,4,3,"upper trapezius\r\nlevator\r\nscapulae",no',
            rows[2],
            "S4,E2,P2,PR2,2026-02-02,14:00,attended,66,5,5,multifidus,yes",
        ]
    )  # fmt: skip  -- S2 spans lines 3-5, S3 is line 6, S4 line 7 with no newline after it
    clinic = load(make_clinic(sessions=sessions))
    assert counts(clinic, "sessions") == [4, 4, 0]
    hit = problem(clinic, "sessions", 7)
    assert (hit["column"], hit["value"], hit["rule"]) == ("pain_pre", "66", "out_of_range")
    assert clinic.quality.problems.query("table == 'sessions'")["line"].tolist() == [7]
    assert clinic.sessions.set_index("session_id").loc["S2", "muscles"] == "upper trapezius\r\nlevator\r\nscapulae"


def test_old_mac_line_endings_and_a_stray_carriage_return(make_clinic):
    # journal: lines ended by a bare CR (old Mac Excel) used to be refused with a raw csv error
    journal = "\r".join([HEADERS["journal"], *ROWS["journal"], "0012,2026-01-08,11,4,6,"]) + "\r"
    # sessions: one bare CR inside an unquoted field; only its row is lost
    rows = ROWS["sessions"]
    sessions = csv_text("sessions", [rows[0], rows[1].replace("levator", "leva\rtor"), rows[2], rows[3]])
    clinic = load(make_clinic(journal=journal, sessions=sessions))
    assert counts(clinic, "journal") == [3, 2, 1]
    assert problem(clinic, "journal", 4)["rule"] == "out_of_range"
    assert counts(clinic, "sessions") == [4, 3, 1]
    hit = problem(clinic, "sessions", 3)
    assert hit["rule"] == "malformed_record" and "a line break (carriage return) inside a field" in hit["reason"]
    assert set(clinic.quality.problems["rule"]) <= set(RULES)
