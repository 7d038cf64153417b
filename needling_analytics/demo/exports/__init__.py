"""The demo clinic written as real systems export it: Cliniko, Jane App, REDCap, FHIR.

Each format has a module here with one function,
``write(tables, out_dir, *, seed) -> list[Path]``, that takes the canonical
tables of :func:`~needling_analytics.demo.generate_clinic` and writes the
files that system would give a clinic, in that system's own shape (its
column names, timestamps, IDs, attendance flags, quirks), plus a
``mapping.yaml`` that loads them (``extends:`` the shipped template of
the same name, adding only what a clinic adds itself).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd

#: ``demo-data --format`` name -> module of this package.
EXPORT_FORMATS = {"cliniko": "cliniko", "jane": "jane", "redcap": "redcap", "fhir": "fhir"}


def write_export(fmt: str, tables: dict[str, pd.DataFrame], out_dir: str | Path, *, seed: int = 0) -> list[Path]:
    """Write ``tables`` as the export of system ``fmt``; return the files written."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; formats are {sorted(EXPORT_FORMATS)}")
    module = importlib.import_module(f".{EXPORT_FORMATS[fmt]}", __name__)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return module.write(tables, out, seed=seed)
