"""The ``needling-analytics`` command.

Exit status: 0 success; 1 rows were quarantined and ``--strict`` was given;
2 the input could not be read (the message names the file and what to do).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from . import __version__
from .errors import DataQualityWarning, InputError

EXIT_OK, EXIT_QUARANTINED, EXIT_UNREADABLE = 0, 1, 2


def _validate(args) -> int:
    from .load import load_clinic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # the summary says it
        clinic = load_clinic(args.data_dir, args.mapping, as_of=args.as_of)
    out = Path(args.out) if args.out else Path("reports") / Path(args.data_dir).resolve().name / "validation"
    paths = clinic.quality.write(out)
    print(clinic.quality.summary())
    print(f"Quality report: {paths['markdown']} (and {paths['json'].name})")
    if not clinic.quality.is_clean:
        print(f"Quarantined rows, with reasons: {out / 'quarantine'}/")
        return EXIT_QUARANTINED if args.strict else EXIT_OK
    return EXIT_OK


def _demo_data(args) -> int:
    from .demo import generate_clinic, make_messy, write_clinic
    from .spreadsheet import write_csv

    tables = generate_clinic(n_patients=args.patients, months=args.months, end=args.end, seed=args.seed)
    out = Path(args.out)
    if args.messy:
        tables, faults = make_messy(tables, seed=args.seed)
        write_csv(faults, out / "injected_faults.csv")
    paths = write_clinic(tables, out, fmt=args.format)
    counts = ", ".join(f"{name} {len(frame):,}" for name, frame in tables.items())
    print(
        f"Demo clinic (seed {args.seed}{', messy' if args.messy else ''}) written to {out}/: {counts} rows in {len(paths)} files."
    )
    return EXIT_OK


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
        "data_dir", metavar="DATA_DIR", help="folder with patients, episodes, sessions (and optional) tables"
    )
    validate.add_argument("--mapping", metavar="FILE", help="YAML mapping of the clinic's export onto the data model")
    validate.add_argument(
        "--out", metavar="DIR", help="where to write the report (default: reports/<data folder name>/validation)"
    )
    validate.add_argument(
        "--as-of", metavar="YYYY-MM-DD", help="date the data describes; later dates are errors (default: today)"
    )
    validate.add_argument("--strict", action="store_true", help="exit with status 1 when any row is quarantined")
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
    demo.add_argument("--format", choices=["csv", "parquet"], default="csv", help="file format (default: csv)")
    demo.add_argument("--messy", action="store_true", help="add the faults real exports have, for validation to catch")
    demo.set_defaults(run=_demo_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except InputError as exc:
        print(f"needling-analytics: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
