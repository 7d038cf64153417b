"""The ``needling-analytics`` command.

Exit status: 0 success; 1 rows were quarantined and ``--strict`` was given,
or a report could not be made; 2 the input could not be read (the message
names the file and what to do); 130 a monthly run was interrupted.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from . import __version__
from .errors import DataQualityWarning, InputError
from .privacy.permissions import UMASKS, file_permissions

EXIT_OK, EXIT_QUARANTINED, EXIT_UNREADABLE = 0, 1, 2


def _validate(args) -> int:
    from .errors import NothingKeptError
    from .load import load_clinic
    from .load.mapping import read_mapping

    mapping = read_mapping(args.mapping) if args.mapping else None
    database = _database_name(mapping) if mapping else None
    if args.data_dir == "-" and database is None:
        raise InputError(
            "no data folder given",
            hint="give the clinic's data folder as DATA_DIR; only a mapping whose `source` is a database needs none.",
        )
    name = database or Path(args.data_dir).resolve().stem
    out = Path(args.out) if args.out else Path("reports") / name / "validation"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)  # the summary says it
            clinic = load_clinic(args.data_dir, mapping, as_of=args.as_of, timezone=args.timezone)
    except NothingKeptError as exc:
        paths = exc.quality.write(out)
        print(exc.quality.summary())
        print(f"Quality report: {paths['markdown']} (and {paths['json'].name})")
        raise
    quality = clinic.quality
    paths = quality.write(out)
    print(quality.summary())
    print(f"Quality report: {paths['markdown']} (and {paths['json'].name})")
    if quality.rows_quarantined:
        print(f"Quarantined rows, with reasons: {out / 'quarantine'}/")
    if quality.values_cleared:
        print(f"Cleared values, with reasons: {paths['cleared']}")
    if not quality.is_clean:
        return EXIT_QUARANTINED if args.strict else EXIT_OK
    return EXIT_OK


def _database_name(mapping) -> str | None:
    """The database a mapping reads from (its `source` URL), or None for files."""
    from .load.sources import source_kind

    if not mapping.kind or source_kind(Path("-"), mapping) != "postgresql":
        return None
    from .load.sources.postgresql import parse_url

    return parse_url(mapping.kind, mapping.source).name


def _demo_data(args) -> int:
    from .demo import generate_clinic, make_messy, write_clinic
    from .demo.exports import EXPORT_FORMATS, write_export
    from .spreadsheet import write_csv

    if args.messy and args.format in EXPORT_FORMATS:
        print(f"needling-analytics: --messy cannot be combined with --format {args.format}", file=sys.stderr)
        return EXIT_UNREADABLE
    tables = generate_clinic(n_patients=args.patients, months=args.months, end=args.end, seed=args.seed)
    out = Path(args.out)
    if args.messy:
        tables, faults = make_messy(tables, seed=args.seed)
        write_csv(faults, out / "injected_faults.csv")
    if args.format in EXPORT_FORMATS:
        paths = write_export(args.format, tables, out, seed=args.seed)
    else:
        paths = write_clinic(tables, out, fmt=args.format)
    if args.format in EXPORT_FORMATS:
        patients = len(tables["patients"])
        print(
            f"Demo clinic (seed {args.seed}, {patients:,} patients) written to {out}/ as a {args.format} export: "
            f"{', '.join(str(p.relative_to(out)) for p in paths)}."
        )
        return EXIT_OK
    counts = ", ".join(f"{name} {len(frame):,}" for name, frame in tables.items())
    print(
        f"Demo clinic (seed {args.seed}{', messy' if args.messy else ''}) written to {out}/: {counts} rows in {len(paths)} files."
    )
    return EXIT_OK


def _run_config(args):
    from .runner import RunConfig, load_config

    config = load_config(args.config) if getattr(args, "config", None) else None
    if config is None and not args.data:
        raise InputError("give the clinic's data folder with --data, or a configuration file with --config")
    values = {} if config is None else {f: getattr(config, f) for f in config.__dataclass_fields__}
    if args.data:
        values["data_dir"] = Path(args.data)
    if getattr(args, "mapping", None):
        values["mapping"] = Path(args.mapping)
    if args.out:
        values["out_dir"] = Path(args.out)
    if getattr(args, "workers", None):
        values["workers"] = args.workers
    if getattr(args, "isolation", None):
        values["isolation"] = args.isolation
    if getattr(args, "clinic_name", None):
        values["clinic_name"] = args.clinic_name
    if getattr(args, "permissions", None):
        values["permissions"] = args.permissions
    if getattr(args, "timezone", None):
        values["timezone"] = args.timezone
    if getattr(args, "audience", None):  # the command line wins over the configuration file
        values["audience"] = args.audience
    if getattr(args, "disclosure", None):
        values["disclosure"] = args.disclosure
    if getattr(args, "recovery_model", None):
        values["recovery_model"] = Path(args.recovery_model)
    if getattr(args, "format", None):
        values["format"] = args.format
    if getattr(args, "executor", None):
        values["executor"] = args.executor
    if getattr(args, "scheduler", None):
        values["scheduler"] = args.scheduler
    if getattr(args, "insecure", False):
        values["insecure"] = True
    return RunConfig(**values)


def _format_option(parser) -> None:
    parser.add_argument(
        "--format",
        choices=["html", "pdf", "both"],
        help="html (default), pdf (A4, made from the same page; needs the [pdf] extra: WeasyPrint), or both",
    )


def _as_of(clinic, text: str):
    """The clinic as it stood at the end of the day ``text``; say what was left out."""
    import datetime as dt

    import pandas as pd

    from .cohort import clinic_until

    try:
        day = pd.Timestamp(dt.date.fromisoformat(text))
    except ValueError:
        raise InputError(f"--as-of must be a date written YYYY-MM-DD, got {text!r}") from None
    if day > clinic.as_of:
        raise InputError(f"--as-of {text} is after the data's own date ({clinic.as_of:%Y-%m-%d}): give an earlier day")
    cut = clinic_until(clinic, day)
    words = {
        "sessions": "sessions",
        "rom": "range-of-motion measurements",
        "proms": "questionnaires",
        "journal": "journal entries",
        "episodes": "courses of care",
        "adverse_events": "adverse events",
    }
    left_out = {name: len(clinic.tables[name]) - len(cut.tables[name]) for name in words}  # the tables cut
    said = ", ".join(f"{n:,} {words[name]}" for name, n in left_out.items() if n)
    print(f"As of {text}: {said or 'nothing'} dated later left out.")
    return cut


def _report(args) -> int:
    import tempfile

    from .load import load_clinic
    from .periods import parse_month
    from .reporting import write_cache
    from .runner import ReportError, run_report, safe_name
    from .runner.config import clinic_parameters, ensure_practitioner_key, patient_parameters, report_settings
    from .runner.pdf import FORMATS, finish_formats

    config = _run_config(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        clinic = load_clinic(config.data_dir, config.mapping, timezone=config.timezone)
    if args.as_of:
        clinic = _as_of(clinic, args.as_of)
    out = config.out_dir / config.clinic_slug
    with file_permissions(config.permissions), tempfile.TemporaryDirectory(prefix="needling-cache-") as cache:
        if args.kind == "clinic":  # the set-up step: a key made once for the clinic reports, never by a report
            ensure_practitioner_key(config)
        write_cache(clinic, cache, settings=report_settings(config))
        if args.kind == "patient":
            if args.patient_id not in set(clinic.patients["patient_id"]):
                raise InputError(
                    f"patient {args.patient_id!r} is not in the data (or all their rows were quarantined)",
                    path=config.data_dir,
                )
            if args.as_of and args.patient_id not in set(clinic.episodes["patient_id"]):
                raise InputError(f"patient {args.patient_id!r} had no course of care yet on {args.as_of}")
            parameters = patient_parameters(args.patient_id, cache)
            html = out / "patients" / f"{safe_name(args.patient_id)}.html"
            title = f"Patient {args.patient_id}"
        else:
            html = out / args.month / "clinic" / "clinic_report.html"
            parameters = clinic_parameters(parse_month(args.month), cache, results_dir=html.parent)
            title = f"Clinic report, {args.month}"
        try:
            result = run_report(args.kind, parameters, html, title=title, timeout=config.timeout)
        except ReportError as exc:
            print(f"needling-analytics: the report could not be made: {exc.reason}", file=sys.stderr)
            return EXIT_QUARANTINED
        footer = f"{title} · {config.clinic_name}" if config.clinic_name else title
        main_file = finish_formats(html, FORMATS[config.format], footer=footer)
        if config.format == "both":
            print(f"PDF: {main_file.with_suffix('.pdf')}")
    print(f"Report: {main_file} ({result.seconds:.1f} s)")
    return EXIT_OK


def _monthly(args) -> int:
    from .runner import run_monthly

    run = run_monthly(_run_config(args), month=args.month, force=args.force)
    counts = {s: sum(r.status == s for r in run.results) for s in ("ok", "skipped", "failed")}
    print(f"Monthly run: {counts['ok']} made, {counts['skipped']} unchanged, {counts['failed']} failed.")
    print(f"Index: {run.index}")
    return run.exit_code


def _fit_recovery(args) -> int:
    from .clinic import pool_clinics
    from .load import load_clinic
    from .metrics import fit_expected_recovery

    folders = [Path(folder) for folder in args.data]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        clinics = {
            f"clinic{k + 1}": load_clinic(folder, args.mapping, timezone=args.timezone)
            for k, folder in enumerate(folders)
        }
    clinic = next(iter(clinics.values())) if len(clinics) == 1 else pool_clinics(clinics)
    model = fit_expected_recovery(clinic, outcome=args.outcome)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    check = model.validation
    print(
        f"Expected recovery of {model.outcome}: {model.n_courses:,} courses of care, "
        f"{model.n_observations:,} follow-up scores from {len(folders)} clinic{'s' if len(folders) != 1 else ''}."
    )
    if check.get("coverage") is not None:
        print(
            f"Validation on {check['n_courses_test']:,} later courses: {check['coverage']:.0%} of scores inside the "
            f"{model.level:.0%} band (should be near {model.level:.0%}); typical error {check['mae_model']:.2f} "
            f"points against {check['mae_carry_forward']:.2f} for assuming no change."
        )
    print(f"Usable in reports: {'yes' if model.available else 'no (' + str(model.reason) + ')'}. Saved: {out}")
    return EXIT_OK


def _export(args) -> int:
    from .load import load_clinic
    from .privacy import export_research, load_key

    key = load_key(key_file=args.key_file)  # refuses to run without a key, and says how to make one
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        clinic = load_clinic(args.data, args.mapping, timezone=args.timezone)
    allowed = set(args.allow_zip3.split(",")) if args.allow_zip3 else None
    paths = export_research(clinic, Path(args.out), key=key, allowed_zip3=allowed)
    print(f"De-identified research export: {len(paths)} files in {args.out} (what was removed and how: README.md)")
    return EXIT_OK


def _practitioners(args) -> int:
    from .load import load_clinic
    from .privacy.keys import create_key_file
    from .reporting.pseudonyms import KEY_FILE_NAME, pseudonym_table

    config = _run_config(args)
    if config.show_practitioner_ids:
        print("The configuration sets show_practitioner_ids = true: clinic reports name practitioners by their IDs.")
        return EXIT_OK
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        clinic = load_clinic(config.data_dir, config.mapping, timezone=config.timezone)
    with file_permissions(config.permissions):
        key_file = create_key_file(config.out_dir / KEY_FILE_NAME)
    table = pseudonym_table(clinic, key_file)
    if table.empty:  # practitioner_id is optional (REDCap and FHIR exports often have none)
        print("Practitioners are not recorded in this clinic's data: there are no code names to print.")
        return EXIT_OK
    print(table.to_string(index=False))
    missing = int(clinic.sessions["practitioner_id"].isna().sum())
    if missing:
        print(f"{missing:,} session{'s have' if missing != 1 else ' has'} no practitioner recorded.")
    return EXIT_OK


def _permissions_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--permissions",
        choices=sorted(UMASKS),
        help="who may read the files written: owner (default) or also the account's group",
    )


def _timezone_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timezone",
        metavar="AREA/CITY",
        help="the clinic's time zone (e.g. Australia/Melbourne): timestamps with a UTC offset are dated in it",
    )


def _disclosure_options(parser: argparse.ArgumentParser) -> None:
    """``--audience`` and ``--disclosure``: who a clinic report is for and how it protects small counts."""
    parser.add_argument(
        "--audience",
        choices=["owner", "staff", "public"],
        help="who the clinic report is for: public (default; suitable for sharing) or staff hide small counts; "
        "owner is the owner's internal report: every count shown, not for sharing",
    )
    parser.add_argument(
        "--disclosure",
        choices=["suppress", "round"],
        help="for staff and public: suppress (default) hides counts of 1-10 and the cells that give them away; "
        "round hides counts of 1-10, rounds the others to the nearest 5 and shows shares as ranges (docs/privacy.md)",
    )


def _run_options(parser: argparse.ArgumentParser, *, out_help: str = "output folder (default: reports)") -> None:
    """The options of commands that take a run configuration: data, mapping, time zone, output, config, permissions."""
    parser.add_argument(
        "--data", metavar="DIR", help="the clinic's data folder or export file (or data_dir in --config)"
    )
    parser.add_argument("--mapping", metavar="FILE", help="YAML mapping of the clinic's export")
    _timezone_option(parser)
    parser.add_argument("--out", metavar="DIR", help=out_help)
    parser.add_argument("--config", metavar="FILE", help="TOML run configuration")
    _permissions_option(parser)


def build_parser() -> argparse.ArgumentParser:
    from .demo import DEMO_END

    parser = argparse.ArgumentParser(
        prog="needling-analytics", description="Outcome analytics and reports for dry-needling clinics."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate",
        help="check a clinic's data and write a quality report",
        description="Load a clinic's data folder, quarantine bad rows and report what was found.",
    )
    validate.add_argument(
        "data_dir",
        metavar="DATA_DIR",
        nargs="?",
        default="-",
        help="folder with the clinic's files (patients, sessions, ...), or a FHIR bundle or REDCap export file; "
        "omit it (or give -) when the mapping's `source` is a database",
    )
    validate.add_argument("--mapping", metavar="FILE", help="YAML mapping of the clinic's export onto the data model")
    validate.add_argument(
        "--out",
        metavar="DIR",
        help="where to write the report (default: reports/<data folder or database name>/validation)",
    )
    validate.add_argument(
        "--as-of", metavar="YYYY-MM-DD", help="date the data describes; later dates are errors (default: today)"
    )
    validate.add_argument(
        "--strict", action="store_true", help="exit with status 1 when any row is quarantined or value cleared"
    )
    _timezone_option(validate)
    _permissions_option(validate)
    validate.set_defaults(run=_validate)

    demo = commands.add_parser(
        "demo-data",
        help="generate the synthetic demo clinic",
        description="Write a realistic synthetic clinic, deterministic for a seed.",
    )
    demo.add_argument("--out", required=True, metavar="DIR", help="folder to write the tables to")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument("--patients", type=int, default=400, help="number of patients (default: 400)")
    demo.add_argument("--months", type=int, default=12, help="months of activity (default: 12)")
    demo.add_argument(
        "--end", default=DEMO_END, metavar="YYYY-MM-DD", help=f"last day of the period (default: {DEMO_END})"
    )
    demo.add_argument(
        "--format",
        choices=["csv", "parquet", "cliniko", "jane", "redcap", "fhir"],
        default="csv",
        help="csv or parquet in our own data model (default: csv), or the export of a real system: "
        "cliniko, jane, redcap or fhir (files plus the mapping.yaml that loads them)",
    )
    demo.add_argument("--messy", action="store_true", help="add the faults real exports have, for validation to catch")
    demo.set_defaults(run=_demo_data)

    report = commands.add_parser(
        "report", help="make one report", description="Make one patient or clinic report as HTML."
    )
    kinds = report.add_subparsers(dest="kind", required=True, metavar="KIND")
    patient = kinds.add_parser("patient", help="one patient's report")
    patient.add_argument("patient_id", metavar="PATIENT_ID")
    clinic = kinds.add_parser("clinic", help="the clinic report for a month")
    clinic.add_argument("--month", required=True, metavar="YYYY-MM")
    _disclosure_options(clinic)
    for sub in (patient, clinic):
        _run_options(sub)
        _format_option(sub)
        sub.add_argument(
            "--as-of",
            metavar="YYYY-MM-DD",
            help="make the report as it would have been at the end of that day: later sessions, scores and courses "
            "are left out, later discharges count as ongoing (default: all the data)",
        )
        sub.set_defaults(run=_report)

    monthly = commands.add_parser(
        "monthly",
        help="the scheduled monthly report run",
        description="Make the clinic report and every patient's report for a month, with an index, a manifest and a log.",
    )
    monthly.add_argument("--month", metavar="YYYY-MM", help="default: the previous calendar month")
    _run_options(monthly)
    monthly.add_argument("--workers", type=int, metavar="N", help="parallel reports (default: the number of cores)")
    monthly.add_argument(
        "--isolation",
        choices=["warm", "strict"],
        help="warm: each worker's kernel serves many reports, wiped clean between them (default); strict: a fresh kernel per report",
    )
    _format_option(monthly)
    monthly.add_argument(
        "--executor",
        choices=["local", "dask"],
        help="local: worker processes on this computer (default); dask: the workers of a Dask cluster",
    )
    monthly.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --executor dask: an existing cluster's scheduler, e.g. tls://10.0.0.5:8786 "
        "(default: a local cluster of --workers processes)",
    )
    monthly.add_argument(
        "--insecure",
        action="store_true",
        help="allow a plain tcp:// scheduler: patients' data then cross the network unencrypted, and anyone who "
        "can reach the scheduler can run code on its workers",
    )
    _disclosure_options(monthly)
    monthly.add_argument("--force", action="store_true", help="remake reports even when nothing changed")
    monthly.set_defaults(run=_monthly)
    for sub in (patient, clinic, monthly):
        sub.add_argument("--clinic-name", metavar="NAME", help="the clinic's name, shown on every report")
        sub.add_argument(
            "--recovery-model",
            metavar="FILE",
            help="an expected-recovery model saved by fit-recovery (e.g. on a group's pooled data); "
            "default: fitted on this clinic's data",
        )

    fit = commands.add_parser(
        "fit-recovery",
        help="fit the expected-recovery model once and save it (parameters only, no patient rows)",
        description="Fit the 'patients like you' model on one clinic's data or a group's pooled data, check it on "
        "the later courses, and save it for the monthly runs (--recovery-model, or recovery_model in the config).",
    )
    fit.add_argument(
        "--data", required=True, action="append", metavar="DIR", help="a clinic's data folder; repeat to pool clinics"
    )
    fit.add_argument("--mapping", metavar="FILE", help="YAML mapping of the clinics' exports")
    _timezone_option(fit)
    fit.add_argument("--out", required=True, metavar="FILE", help="the model file to write (JSON)")
    fit.add_argument(
        "--outcome",
        default="pain",
        choices=["pain", "NDI", "ODI", "PSFS", "LEFS", "QuickDASH"],
        help="pain (default) or a questionnaire",
    )
    fit.set_defaults(run=_fit_recovery)

    export = commands.add_parser(
        "export",
        help="write a de-identified research dataset",
        description="Write the clinic's data de-identified (HIPAA Safe Harbor): keyed pseudonyms, days instead of dates, age bands.",
    )
    export.add_argument("--data", required=True, metavar="DIR", help="the clinic's data folder or export file")
    export.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder for the export")
    export.add_argument("--key-file", metavar="FILE", help="secret key for the pseudonyms (else $NEEDLING_EXPORT_KEY)")
    export.add_argument("--mapping", metavar="FILE", help="YAML mapping of the clinic's export")
    _timezone_option(export)
    export.add_argument(
        "--allow-zip3", metavar="LIST", help="comma-separated 3-digit postcode prefixes of areas over 20,000 people"
    )
    export.set_defaults(run=_export)

    practitioners = commands.add_parser(
        "practitioners",
        help="print each practitioner's code name in the clinic reports",
        description="Print the code name (pseudonym) each practitioner has in the clinic reports, so the owner can tell "
        "each practitioner theirs. Keep the output private.",
    )
    _run_options(practitioners, out_help="the reports folder holding the key (default: reports)")
    practitioners.set_defaults(run=_practitioners)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with file_permissions(getattr(args, "permissions", None) or "owner"):
            return args.run(args)
    except InputError as exc:
        print(f"needling-analytics: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
