"""Run configuration: one TOML file so that cron needs one short line.

Example ``clinic.toml``::

    clinic_name = "Harbour Physio"
    data_dir = "/srv/clinic/exports"      # relative paths are taken from this file's folder
    mapping = "mapping.yaml"              # optional; a mapping.yaml in data_dir is used when absent
    timezone = "Australia/Melbourne"      # the clinic's time zone (overrides the mapping's)
    out_dir = "/srv/clinic/reports"
    workers = 2                           # default: the number of cores
    audience = "public"                   # who the clinic report is for: owner (nothing hidden), staff or public
    disclosure = "suppress"               # staff/public: "suppress" small counts and complements, or "round" to 5
    min_cell_size = 11                    # staff/public: counts below are hidden in clinic reports
    min_episodes = 10                     # practitioners below are not compared
    show_practitioner_ids = false         # true: name practitioners by their IDs; false: stable pseudonyms
    timeout = 300                         # seconds per notebook step
    isolation = "warm"                    # or "strict": a fresh kernel for every report
    permissions = "owner"                 # or "group": the account's group may read reports too
    recovery_model = "group-model.json"   # optional: an expected-recovery model fitted once on a group's
                                          # pooled data (fit-recovery); default: fitted on this clinic's data
    format = "html"                       # or "pdf" (A4, made from the same page), or "both"
    executor = "local"                    # or "dask": reports are made by the workers of a Dask cluster
    # scheduler = "tls://10.0.0.5:8786"   # dask only: an existing cluster (default: a local one of `workers` processes)
    # tls_ca_file = "certs/ca.pem"        # a tls:// scheduler: the certificate authority, and this client's
    # tls_cert_file = "certs/client.pem"  # certificate and key (Dask's Security)
    # tls_key_file = "certs/client-key.pem"
    # insecure = false                    # true: allow a plain tcp:// scheduler (unencrypted, unauthenticated)

    [responder_rule]
    abs_threshold = 2.0
    pct_threshold = 30.0
    require = "both"
    min_baseline = 0.0
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, fields
from pathlib import Path

from ..errors import InputError
from ..load.mapping import check_timezone
from ..metrics import ResponderRule
from ..privacy.keys import create_key_file
from ..privacy.permissions import check_level
from ..privacy.suppression import Disclosure
from ..reporting import RunSettings
from ..reporting.pseudonyms import KEY_FILE_NAME


@dataclass(frozen=True)
class RunConfig:
    """Everything a scheduled run needs."""

    data_dir: Path
    clinic_name: str = ""
    mapping: Path | None = None
    timezone: str | None = None
    out_dir: Path = Path("reports")
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    audience: str = "public"
    disclosure: str = "suppress"
    min_cell_size: int = 11
    min_episodes: int = 10
    timeout: int = 300
    isolation: str = "warm"
    show_practitioner_ids: bool = False
    permissions: str = "owner"
    rule: ResponderRule = ResponderRule()
    recovery_model: Path | None = None
    executor: str = "local"
    scheduler: str | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    insecure: bool = False
    format: str = "html"

    def __post_init__(self):
        # Notebooks run in their own folder: every path they are given must be absolute.
        for name in ("data_dir", "out_dir", "mapping", "recovery_model", *TLS_FILES):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).expanduser().resolve())
        if not isinstance(self.show_practitioner_ids, bool):
            raise InputError(
                f"`show_practitioner_ids` must be true (name practitioners by their IDs) or false (pseudonyms), got {self.show_practitioner_ids!r}"
            )
        check_level(self.permissions)
        try:
            Disclosure(self.audience, self.disclosure, self.min_cell_size)  # raises on a bad value
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if self.recovery_model is not None:
            check_recovery_model(self.recovery_model)
        if self.timezone:
            check_timezone(self.timezone)
        if self.isolation not in ("warm", "strict"):
            raise InputError(
                f"`isolation` must be 'warm' (a kernel serves many reports, wiped between them) or 'strict' (a fresh kernel per report), got {self.isolation!r}"
            )
        if not isinstance(self.insecure, bool):
            raise InputError(f"`insecure` must be true or false, got {self.insecure!r}")
        check_executor(self)
        if self.format not in ("html", "pdf", "both"):
            raise InputError(f"`format` must be 'html', 'pdf' or 'both', got {self.format!r}")
        if self.format != "html":
            from .pdf import check_pdf_support

            check_pdf_support()

    @property
    def disclosure_policy(self) -> Disclosure:
        """Who the clinic report is for and how it protects small counts (written to the run's cache)."""
        return Disclosure(self.audience, self.disclosure, self.min_cell_size)

    @property
    def clinic_slug(self) -> str:
        """The clinic's folder name under ``out_dir``: ``Harbour Physio`` is ``harbour-physio``."""
        name = unicodedata.normalize("NFKD", self.clinic_name or self.data_dir.resolve().name)
        slug = re.sub(r"[^a-z0-9]+", "-", name.encode("ascii", "ignore").decode().casefold()).strip("-")[:60]
        return slug or "clinic"


#: The settings naming the certificate files of a TLS connection to a Dask scheduler.
TLS_FILES = ("tls_ca_file", "tls_cert_file", "tls_key_file")


def check_executor(config: RunConfig) -> None:
    """Refuse an unknown executor, and a scheduler address that would send patient data unprotected.

    Patient data cross the network between the run and a cluster's workers,
    and Dask's plain TCP has no authentication: a ``tcp://`` address is
    refused unless ``insecure`` is set, and a ``tls://`` address needs the
    three certificate files.

    Raises
    ------
    InputError
        Saying what to give instead.
    """
    if config.executor not in ("local", "dask"):
        raise InputError(
            f"`executor` must be 'local' (worker processes on this computer) or 'dask' (a Dask cluster), got {config.executor!r}"
        )
    if config.scheduler is None:
        return
    if config.executor != "dask":
        raise InputError(
            '`scheduler` is the address of a Dask cluster: give it with `executor = "dask"` (--executor dask)'
        )
    scheme, _, rest = str(config.scheduler).partition("://")
    host = rest.rsplit(":", 1)[0] if rest else ""
    if scheme not in ("tcp", "tls") or not host:
        raise InputError(
            f"`scheduler` must be an address like tls://HOST:8786 (or tcp://127.0.0.1:8786 on this computer), got {config.scheduler!r}"
        )
    if scheme == "tcp" and not config.insecure:
        raise InputError(
            f"the scheduler {config.scheduler} is reached over plain TCP: patients' data would cross the network "
            "unencrypted, and anyone who can reach the scheduler (another account on its computer included) could "
            "run code on the workers and read the reports. Use a tls:// address with tls_ca_file, tls_cert_file "
            "and tls_key_file, or give --insecure (insecure = true) if every account that can reach it may"
        )
    missing = [name for name in TLS_FILES if getattr(config, name) is None]
    if scheme == "tls" and missing:
        raise InputError(f"a tls:// scheduler needs the certificate files {', '.join(missing)} in the configuration")
    for name in TLS_FILES:
        path = getattr(config, name)
        if path is not None and not path.is_file():
            raise InputError(f"`{name}` names no file", path=path)


def check_recovery_model(path: Path) -> None:
    """Refuse, before any report is made, a ``recovery_model`` that is missing, not a saved model, or not of pain.

    Raises
    ------
    InputError
        Naming the file and what to give instead.
    """
    from ..metrics import load_expected_recovery

    if not path.is_file():
        raise InputError(
            "`recovery_model` names no file: give a model saved by `needling-analytics fit-recovery`, or leave it out to fit one on this clinic's data",
            path=path,
        )
    try:
        model = load_expected_recovery(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # not JSON, or JSON of something else
        raise InputError(
            f"`recovery_model` is not an expected-recovery model ({type(exc).__name__}: {exc}); give a file written by `needling-analytics fit-recovery`",
            path=path,
        ) from None
    if model.outcome != "pain":
        raise InputError(
            f"`recovery_model` is a model of {model.outcome}, but reports show the expected course of pain; fit one with `needling-analytics fit-recovery --outcome pain`",
            path=path,
        )


def practitioner_key_file(config: RunConfig) -> Path | None:
    """Where the run keeps the practitioner key (``out_dir``), or None when reports show practitioner IDs.

    Only the path: nothing is created. The run's set-up (the monthly run,
    the ``report`` command) creates the file once with
    :func:`ensure_practitioner_key`, so that pseudonyms stay the same from
    month to month.
    """
    return None if config.show_practitioner_ids else config.out_dir / KEY_FILE_NAME


def ensure_practitioner_key(config: RunConfig) -> Path | None:
    """Create the practitioner key file the first time (a run does this before making reports); its path, or None."""
    return None if config.show_practitioner_ids else create_key_file(config.out_dir / KEY_FILE_NAME)


def report_settings(config: RunConfig) -> RunSettings:
    """The settings the run writes into its cache for every report to read (:class:`~needling_analytics.reporting.RunSettings`).

    Pure: nothing is read or created (the key file is named by its path).
    """
    key_file = practitioner_key_file(config)
    return RunSettings(
        rule=config.rule,
        disclosure=config.disclosure_policy,
        clinic_name=config.clinic_name,
        min_episodes=int(config.min_episodes),
        show_practitioner_ids=bool(config.show_practitioner_ids),
        practitioner_key_file="" if key_file is None else str(key_file),
        recovery_model_file="" if config.recovery_model is None else str(config.recovery_model),
    )


def clinic_parameters(month, cache_dir, *, results_dir=None) -> dict:
    """Parameters of the clinic report notebook for ``month``: the month and paths only.

    Pure: no file is read or written. The run's settings (responder rule,
    audience and disclosure, clinic name, practitioner settings and key
    file) are not parameters: the run writes them once into its cache
    (:func:`report_settings`, :func:`~needling_analytics.reporting.write_cache`)
    and the report reads them from there
    (:func:`~needling_analytics.reporting.run_settings`), as the patient
    reports do, so no two reports of a run disagree. ``results_dir``: where
    the report writes ``summary.json`` and ``tables/*.csv`` (the folder of
    its HTML); None writes neither.
    """
    return {
        "month": str(month),
        "cache_dir": str(cache_dir),
        "results_dir": "" if results_dir is None else str(results_dir),
    }


def patient_parameters(patient_id: str, cache_dir) -> dict:
    """Parameters of the patient report notebook: the patient's ID and the cache's path only.

    Pure, like :func:`clinic_parameters`; the rule and the clinic's name
    come from the cache.
    """
    return {"patient_id": patient_id, "cache_dir": str(cache_dir)}


def load_config(path: str | Path) -> RunConfig:
    """Read a TOML run configuration, with paths relative to the file.

    Raises
    ------
    InputError
        When the file is missing, not TOML, or has unknown or mistyped keys.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("configuration file not found", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=path) from None
    allowed = {f.name for f in fields(RunConfig)} - {"rule"} | {"responder_rule"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise InputError(f"unknown setting(s) {unknown}; allowed: {sorted(allowed)}", path=path)
    if "data_dir" not in raw:
        raise InputError("`data_dir` is required: the folder holding the clinic's exports", path=path)
    base = path.parent
    values = dict(raw)
    for key in ("data_dir", "mapping", "out_dir", "recovery_model", *TLS_FILES):
        if key in values:
            if not isinstance(values[key], str):
                raise InputError(f"`{key}` must be a path in quotes, got {values[key]!r}", path=path)
            values[key] = (base / Path(values[key]).expanduser()).resolve()
    rule = values.pop("responder_rule", {})
    try:
        values["rule"] = ResponderRule(**rule)
        for key in ("workers", "min_cell_size", "min_episodes", "timeout"):
            if key in values and (not isinstance(values[key], int) or values[key] < 1):
                raise ValueError(f"`{key}` must be a whole number of at least 1, got {values[key]!r}")
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc), path=path) from None
    return RunConfig(**values)


def safe_name(identifier: str, *, max_length: int = 80) -> str:
    """A file-name-safe form of an ID that cannot leave its folder.

    Keeps letters, digits, ``-`` and ``_``; anything else becomes ``_``.
    When that changed the ID (or it was empty, too long, or a reserved
    Windows name), a short hash of the original is appended, so two IDs
    that clean to the same text still get different names.
    """
    text = unicodedata.normalize("NFKC", str(identifier))
    clean = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:max_length]
    reserved = clean.upper().split(".")[0] in {
        "CON",
        "PRN",
        "AUX",
        "NUL",
        *(f"COM{i}" for i in range(10)),
        *(f"LPT{i}" for i in range(10)),
    }
    if clean != text or not clean or reserved:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        clean = f"{clean or 'id'}-{digest}"
    return clean
