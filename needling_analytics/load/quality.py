"""The data-quality report: what was read, kept, collapsed and quarantined."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import NothingKeptError
from ..schema import TABLES
from ..spreadsheet import write_csv
from .rules import CASCADE_MARK, RULES

TABLE_SUMMARY_COLUMNS = [
    "table", "file", "supplied", "rows_read", "duplicates_collapsed",
    "rows_quarantined", "values_cleared", "rows_kept", "sha256", "notes",
]  # fmt: skip
#: A table smaller than this is never refused for losing rows to another table's quarantine.
MIN_ROWS_FOR_CASCADE_CHECK = 10
PROBLEM_COLUMNS = ["table", "file", "line", "location", "column", "value", "rule", "reason", "action"]


@dataclass
class QualityReport:
    """What loading a clinic found.

    Attributes
    ----------
    tables : DataFrame
        One row per table and source (a table whose rows also come from
        another file's wide columns has a row for each): ``table``,
        ``file``, ``supplied``, ``rows_read``, ``duplicates_collapsed``,
        ``rows_quarantined``, ``values_cleared``, ``rows_kept``, ``sha256``
        (of the source file), ``notes``.
    problems : DataFrame
        One row per broken rule: ``table``, ``file``, ``line`` (line of a
        CSV, row of a sheet or Parquet file, entry of a bundle),
        ``location`` (the same in words: "line 12", "row 5 of sheet
        'Visits'"), ``column``, ``value`` (as written), ``rule`` (see
        :data:`RULES`), ``reason``, ``action`` (``quarantined``: the row was
        set aside; ``cleared``: an optional value that could not be read
        was set blank and the row kept).
    collapsed : DataFrame
        One row per exact duplicate dropped: ``table``, ``file``, ``line``,
        ``first_line`` (the copy kept).
    quarantine : dict of str to DataFrame
        Per table, the quarantined rows as written, each problem a row:
        ``source_file``, ``line``, ``problem_column``, ``problem_value``,
        ``rule``, ``reason`` then the row's own columns.
    """

    data_dir: Path
    as_of: pd.Timestamp
    tables: pd.DataFrame
    problems: pd.DataFrame
    collapsed: pd.DataFrame
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict)
    mapping: Path | None = None
    source: str = ""
    timezone: str | None = None
    #: sentences for the clinic beyond the row problems (unmarked appointments, rounded IDs)
    facts: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<QualityReport {self.data_dir}: {self.rows_quarantined:,} row(s) quarantined, {len(self.problems):,} problem(s)>"

    @property
    def rows_quarantined(self) -> int:
        return int(self.tables["rows_quarantined"].sum())

    @property
    def values_cleared(self) -> int:
        return int(self.tables["values_cleared"].sum())

    @property
    def is_clean(self) -> bool:
        """True when no row was quarantined and no value cleared (collapsed exact duplicates are allowed)."""
        return self.rows_quarantined == 0 and self.values_cleared == 0

    def top_problems(self, n: int = 3) -> pd.DataFrame:
        """The ``n`` commonest problems of each table.

        Returns
        -------
        DataFrame
            ``table``, ``rule``, ``column``, ``rows`` (how many), ``description``
            (of the rule), ``example`` (one reason, with its line).
        """
        if self.problems.empty:
            return pd.DataFrame(columns=["table", "rule", "column", "rows", "description", "example"])
        p = self.problems.assign(
            example=self.problems["file"].map(lambda f: Path(f).name)
            + " "
            + self.problems["location"].astype(str)
            + ": "
            + self.problems["reason"]
        )
        counts = (
            p.groupby(["table", "rule", "column"], sort=False)
            .agg(rows=("line", "size"), example=("example", "first"))
            .reset_index()
        )
        order = {name: i for i, name in enumerate(TABLES)}
        counts = counts.sort_values(
            ["table", "rows"],
            ascending=[True, False],
            key=lambda s: s.map(order) if s.name == "table" else s,
            kind="stable",
        )
        counts = counts.groupby("table", sort=False).head(n)
        counts.insert(4, "description", counts["rule"].map(RULES))
        return counts.reset_index(drop=True)

    def summary(self) -> str:
        """A plain-text summary for a terminal."""
        lines = [f"Data quality for {self.data_dir} (as of {self.as_of:%Y-%m-%d})"]
        if self.source and not self.source.startswith("folder"):
            lines.append(f"  source: {self.source}")
        if self.mapping:
            lines.append(f"  mapping: {self.mapping}")
        if self.timezone:
            lines.append(f"  dates in the clinic's time zone: {self.timezone}")
        width = max(len(t) for t in self.tables["table"])
        lines.append(
            f"  {'table':<{width}}  {'read':>8}  {'kept':>8}  {'quarantined':>11}  {'cleared':>8}  {'duplicates':>10}"
        )
        for row in self.tables.itertuples():
            if not row.supplied:
                lines.append(f"  {row.table:<{width}}  {'not supplied':>8}")
                continue
            lines.append(
                f"  {row.table:<{width}}  {row.rows_read:>8,}  {row.rows_kept:>8,}  {row.rows_quarantined:>11,}"
                f"  {row.values_cleared:>8,}  {row.duplicates_collapsed:>10,}"
            )
        top = self.top_problems()
        if not top.empty:
            lines.append("Commonest problems:")
            for row in top.itertuples():
                lines.append(f"  {row.table}: {row.rows:,} x {row.rule} in {row.column} -- e.g. {row.example}")
        notes = self.tables.loc[self.tables["notes"] != "", ["table", "notes"]]
        if not notes.empty or self.facts:
            lines.append("Notes:")
            lines.extend(f"  {r.table}: {r.notes}" for r in notes.itertuples())
            lines.extend(f"  {fact}" for fact in self.facts)
        verdict = (
            "clean: every row and value was kept"
            if self.is_clean
            else f"{self.rows_quarantined:,} row(s) quarantined, {self.values_cleared:,} value(s) cleared"
        )
        lines.append(f"Result: {verdict}.")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """A JSON-ready dictionary of the whole report."""

        def records(frame):
            return json.loads(frame.to_json(orient="records", date_format="iso"))

        return {
            "data_dir": str(self.data_dir),
            "mapping": str(self.mapping) if self.mapping else None,
            "as_of": f"{self.as_of:%Y-%m-%d}",
            "clean": self.is_clean,
            "source": self.source,
            "timezone": self.timezone,
            "rows_quarantined": self.rows_quarantined,
            "values_cleared": self.values_cleared,
            "facts": self.facts,
            "tables": records(self.tables),
            "top_problems": records(self.top_problems()),
            "problems": records(self.problems),
            "duplicates_collapsed": records(self.collapsed),
            "rules": RULES,
        }

    def to_markdown(self) -> str:
        """A readable Markdown version of the report."""
        shown = self.tables.drop(columns=["sha256"])
        parts = [
            f"# Data quality report\n\nData: `{self.data_dir}`; as of {self.as_of:%Y-%m-%d}."
            + (f" Mapping: `{self.mapping}`." if self.mapping else "")
            + (f" Dates in the clinic's time zone, {self.timezone}." if self.timezone else ""),
            "**Clean: every row and value was kept.**"
            if self.is_clean
            else f"**{self.rows_quarantined:,} row(s) quarantined, {self.values_cleared:,} value(s) cleared.** "
            "Each quarantined row is listed in `quarantine/<table>.csv` and each cleared value in `cleared.csv`, "
            "with the reason; fix them in the source and load again.",
            "## Tables\n\n" + _markdown_table(shown),
        ]
        top = self.top_problems(n=10)
        if not top.empty:
            parts.append("## Commonest problems\n\n" + _markdown_table(top))
        if self.facts:
            parts.append("## To fix in the source\n\n" + "\n".join(f"- {fact}" for fact in self.facts))
        return "\n\n".join(parts) + "\n"

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``quality.json``, ``quality.md`` and ``quarantine/<table>.csv``.

        Returns the paths written, by name. Quarantine files of earlier runs
        in ``out_dir`` are removed so that they never describe other data.
        """
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = {"json": out_dir / "quality.json", "markdown": out_dir / "quality.md"}
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        paths["markdown"].write_text(self.to_markdown(), encoding="utf-8")
        quarantine_dir = out_dir / "quarantine"
        for old in quarantine_dir.glob("*.csv") if quarantine_dir.is_dir() else ():
            old.unlink()
        for table, frame in self.quarantine.items():
            if not frame.empty:
                paths[f"quarantine/{table}"] = write_csv(frame, quarantine_dir / f"{table}.csv")
        cleared = self.problems[self.problems["action"] == "cleared"]
        old = out_dir / "cleared.csv"
        if old.exists():
            old.unlink()
        if not cleared.empty:
            paths["cleared"] = write_csv(cleared.drop(columns="action"), old)
        return paths


def _markdown_table(frame: pd.DataFrame) -> str:
    text = frame.astype(str).map(lambda v: v.replace("|", "\\|").replace("\n", " "))
    header = "| " + " | ".join(text.columns) + " |"
    rule = "|" + "---|" * len(text.columns)
    rows = ["| " + " | ".join(r) + " |" for r in text.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def check_enough_kept(report: QualityReport, lost_to_parents: dict[str, int], *, derived: bool = False) -> None:
    """Refuse a load that kept nothing of a required table, or lost most of a table to another's rows.

    ``lost_to_parents`` counts, per table, the rows quarantined because a
    row they refer to was quarantined. With ``derived`` episodes, the
    sessions they come from are judged before them.

    Raises
    ------
    NothingKeptError
        Naming the rule that removed the rows and the first examples; the
        quality report is attached as ``.quality`` so it can still be written.
    """
    tables = report.tables.groupby("table", sort=False)[["rows_read", "rows_kept", "supplied"]].agg(
        {"rows_read": "sum", "rows_kept": "sum", "supplied": "any"}
    )
    problems = report.problems[report.problems["action"] == "quarantined"]
    if derived:
        order = ["patients", "sessions", "episodes"]
        tables = tables.loc[[*order, *(t for t in tables.index if t not in order)]]
    for name, row in tables.iterrows():
        if not row["supplied"]:
            continue
        mine = problems[problems["table"] == name]
        lost = lost_to_parents.get(name, 0)
        if TABLES[name].required and row["rows_read"] == 0:
            error = NothingKeptError(
                f"table {name!r} has no rows",
                path=report.data_dir,
                hint="check that the export covers the period and that the mapping names the right file, form or query.",
            )
            error.quality = report
            raise error
        if TABLES[name].required and row["rows_kept"] == 0:
            why = f"none of its {row['rows_read']:,} rows was kept"
        elif row["rows_read"] >= MIN_ROWS_FOR_CASCADE_CHECK and lost > row["rows_read"] / 2:
            why = f"{lost:,} of its {row['rows_read']:,} rows were lost because rows they refer to were quarantined"
            mine = mine[mine["reason"].str.contains(CASCADE_MARK, regex=False)]
        else:
            continue
        top = mine.groupby(["rule", "column"]).size().sort_values(ascending=False)
        (rule, column), count = top.index[0], int(top.iloc[0])
        examples = mine[(mine["rule"] == rule) & (mine["column"] == column)].head(3)
        shown = "; ".join(f"{Path(r.file).name} {r.location}: {r.reason}" for r in examples.itertuples())
        error = NothingKeptError(
            f"table {name!r}: {why}. The rule that removed most: {rule} in {column} ({count:,} rows), e.g. {shown}",
            path=report.data_dir,
            hint="fix the mapping or the export (the quality report lists every row and why); "
            "an empty or gutted table would make every figure wrong.",
        )
        error.quality = report
        raise error
