"""Privacy: the de-identified research export (HIPAA Safe Harbor)."""

from .export import (
    AGE_BANDS,
    COLUMNS,
    KEY_ENV_VAR,
    REMOVED,
    RESTRICTED_ZIP3,
    PrivacyWarning,
    export_research,
    load_key,
    pseudonym,
)

__all__ = [
    "AGE_BANDS",
    "COLUMNS",
    "KEY_ENV_VAR",
    "REMOVED",
    "RESTRICTED_ZIP3",
    "PrivacyWarning",
    "export_research",
    "load_key",
    "pseudonym",
]
