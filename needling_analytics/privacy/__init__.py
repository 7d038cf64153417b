"""Privacy: small-cell suppression, keys and keyed pseudonyms, the research export, and file permissions.

- :mod:`.suppression`: which counts to hide (the CMS cell-size rule), and
  :class:`Disclosure`, who a report is for and how it protects them;
- :mod:`.policies`: the clinic report's own choices (monthly counts, funnel);
- :mod:`.keys`: the one key file format, its loader and its creator;
- :mod:`.pseudonyms`: keyed HMAC pseudonyms, for the research export and
  the practitioner code names;
- :mod:`.export` and :mod:`.safe_harbor`: the de-identified research export
  (HIPAA Safe Harbor);
- :mod:`.permissions`: who may read what the tool writes.

Everything here needs numpy and pandas only: the plots use it as well as the
reports. docs/privacy.md explains the choices.
"""

from .export import export_research
from .keys import KEY_BYTES, KEY_ENV_VAR, KeyFileWarning, PrivacyWarning, create_key_file, load_key
from .permissions import UMASKS, check_level, file_permissions, warn_if_shared
from .policies import MONTHLY_COUNTS, MONTHLY_TOTALS, funnel_hidden, monthly_counts, monthly_hidden
from .pseudonyms import (
    PRACTITIONER_DOMAIN,
    PREFIXES,
    check_key,
    keyed_digests,
    practitioner_pseudonyms,
    pseudonym,
)
from .safe_harbor import AGE_BANDS, COLUMNS, REMOVED, RESTRICTED_ZIP3
from .suppression import (
    AUDIENCES,
    COMPLEMENT,
    METHODS,
    ROUNDING_BASE,
    Disclosure,
    as_disclosure,
    check_min_cell_size,
    is_small,
    keep_steps,
    pool_bands,
    round_counts,
    share_band,
    small_count_mask,
)

__all__ = [
    "AGE_BANDS",
    "AUDIENCES",
    "COLUMNS",
    "COMPLEMENT",
    "KEY_BYTES",
    "KEY_ENV_VAR",
    "METHODS",
    "MONTHLY_COUNTS",
    "MONTHLY_TOTALS",
    "PRACTITIONER_DOMAIN",
    "PREFIXES",
    "REMOVED",
    "RESTRICTED_ZIP3",
    "ROUNDING_BASE",
    "UMASKS",
    "Disclosure",
    "KeyFileWarning",
    "PrivacyWarning",
    "as_disclosure",
    "check_key",
    "check_level",
    "check_min_cell_size",
    "create_key_file",
    "export_research",
    "file_permissions",
    "funnel_hidden",
    "is_small",
    "keep_steps",
    "keyed_digests",
    "load_key",
    "monthly_counts",
    "monthly_hidden",
    "pool_bands",
    "practitioner_pseudonyms",
    "pseudonym",
    "round_counts",
    "share_band",
    "small_count_mask",
    "warn_if_shared",
]
