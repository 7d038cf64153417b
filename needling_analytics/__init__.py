"""needling-analytics: outcome analytics and reports for dry-needling clinics."""

from importlib.metadata import PackageNotFoundError, version

from .errors import DataQualityWarning, InputError, NeedlingAnalyticsError
from .load import Clinic, QualityReport, load_clinic

try:
    __version__ = version("needling-analytics")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "Clinic",
    "DataQualityWarning",
    "InputError",
    "NeedlingAnalyticsError",
    "QualityReport",
    "__version__",
    "load_clinic",
]
