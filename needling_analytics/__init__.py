"""needling-analytics: outcome analytics and reports for dry-needling clinics."""

from importlib.metadata import PackageNotFoundError, version

from .clinic import Clinic
from .errors import DataQualityWarning, InputError, NeedlingAnalyticsError, NeedlingAnalyticsWarning

try:
    __version__ = version("needling-analytics")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "Clinic",
    "DataQualityWarning",
    "InputError",
    "NeedlingAnalyticsError",
    "NeedlingAnalyticsWarning",
    "QualityReport",
    "__version__",
    "load_clinic",
]

#: Names from the loader, imported on first use: the loader brings pandera, which metrics and plots never need.
_FROM_LOAD = ("QualityReport", "load_clinic")


def __getattr__(name: str):
    if name in _FROM_LOAD:
        from . import load

        value = getattr(load, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
