"""Running reports: one notebook (``execute``), or the whole month (``monthly``)."""

from .config import RunConfig, load_config, safe_name
from .execute import ParameterError, ReportError, check_parameters, run_report
from .monthly import MonthlyRun, patients_seen, previous_month, run_monthly

__all__ = [
    "MonthlyRun",
    "ParameterError",
    "ReportError",
    "RunConfig",
    "check_parameters",
    "load_config",
    "patients_seen",
    "previous_month",
    "run_monthly",
    "run_report",
    "safe_name",
]
