"""Pull a REDCap project's flat export and data dictionary from its server with PyCap.

PyCap is optional and not a dependency: install plain ``pycap`` (its
``data_science`` extra pins an older pandas). The API token is read from an
environment variable, never from a file or the command line.
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import InputError

#: Names of the files written; the data dictionary's matches what the REDCap source looks for.
EXPORT_FILE = "redcap_export.csv"
DICTIONARY_FILE = "redcap_DataDictionary.csv"


def _project_class():
    try:
        import redcap
    except ImportError:
        raise InputError(
            "pulling from a REDCap server needs PyCap, which is not installed",
            hint="install it with `pip install pycap` (plain pycap: its data_science extra pins an older pandas), "
            "or export the data and the data dictionary from REDCap's web interface.",
        ) from None
    return redcap.Project


def export_from_server(url: str, token_env: str, out_dir: str | Path) -> list[Path]:
    """Write the project's records and data dictionary as CSV files in ``out_dir``.

    Parameters
    ----------
    url : str
        The project's API address, e.g. ``https://redcap.example.org/api/``.
    token_env : str
        Name of the environment variable holding the API token.
    out_dir : str or Path
        Folder to write into (created if absent).

    Returns
    -------
    list of Path
        ``redcap_export.csv`` (the flat export, raw codes) and
        ``redcap_DataDictionary.csv`` (the metadata), readable by
        :func:`~needling_analytics.load.load_clinic` as a REDCap source.

    Raises
    ------
    InputError
        When the environment variable is unset or PyCap is not installed.
    """
    token = os.environ.get(token_env, "").strip()
    if not token:
        raise InputError(
            f"the environment variable {token_env} holding the REDCap API token is not set",
            hint=f"set {token_env} to the project's API token (REDCap > API) before pulling.",
        )
    project = _project_class()(url, token)
    records = project.export_records(format_type="csv")
    metadata = project.export_metadata(format_type="csv")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in ((EXPORT_FILE, records), (DICTIONARY_FILE, metadata)):
        path = out / name
        path.write_text(text, encoding="utf-8", newline="")
        written.append(path)
    return written
