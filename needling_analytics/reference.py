"""Reference values used by validation: plausible limits for range of motion.

These limits catch readings that cannot be real (a typo, a wrong column,
a percentage entered as degrees). They are deliberately wider than normal
ranges (AAOS, Norkin & White, *Measurement of Joint Motion*): roughly 1.5
times the normal maximum, with room for hypermobility, and negative values
where clinicians record a deficit (knee or elbow extension lag).
"""

from __future__ import annotations

import pandas as pd

_PLAUSIBLE_DEGREES = {
    ("cervical_spine", "flexion"): (0, 90),
    ("cervical_spine", "extension"): (0, 110),
    ("cervical_spine", "lateral_flexion"): (0, 75),
    ("cervical_spine", "rotation"): (0, 110),
    ("thoracic_spine", "flexion"): (0, 90),
    ("thoracic_spine", "extension"): (0, 60),
    ("thoracic_spine", "lateral_flexion"): (0, 60),
    ("thoracic_spine", "rotation"): (0, 90),
    ("lumbar_spine", "flexion"): (0, 120),
    ("lumbar_spine", "extension"): (0, 60),
    ("lumbar_spine", "lateral_flexion"): (0, 60),
    ("lumbar_spine", "rotation"): (0, 60),
    ("shoulder", "flexion"): (0, 200),
    ("shoulder", "extension"): (0, 90),
    ("shoulder", "abduction"): (0, 200),
    ("shoulder", "adduction"): (0, 75),
    ("shoulder", "external_rotation"): (-20, 130),
    ("shoulder", "internal_rotation"): (-20, 110),
    ("elbow", "flexion"): (0, 170),
    ("elbow", "extension"): (-90, 30),
    ("forearm", "pronation"): (0, 120),
    ("forearm", "supination"): (0, 120),
    ("wrist", "flexion"): (0, 110),
    ("wrist", "extension"): (0, 110),
    ("wrist", "radial_deviation"): (0, 45),
    ("wrist", "ulnar_deviation"): (0, 60),
    ("hip", "flexion"): (0, 150),
    ("hip", "extension"): (-20, 45),
    ("hip", "abduction"): (0, 70),
    ("hip", "adduction"): (0, 45),
    ("hip", "external_rotation"): (0, 80),
    ("hip", "internal_rotation"): (0, 70),
    ("knee", "flexion"): (0, 165),
    ("knee", "extension"): (-60, 20),
    ("ankle", "dorsiflexion"): (-30, 50),
    ("ankle", "plantarflexion"): (0, 80),
    ("ankle", "inversion"): (0, 60),
    ("ankle", "eversion"): (0, 45),
}

#: Limits for a joint and movement not listed above.
DEFAULT_PLAUSIBLE_DEGREES = (-90, 200)


def plausible_degrees() -> pd.DataFrame:
    """Plausible limits of a range-of-motion reading.

    Returns
    -------
    DataFrame
        Columns ``joint``, ``movement``, ``min_degrees``, ``max_degrees``.
    """
    rows = [(j, m, lo, hi) for (j, m), (lo, hi) in _PLAUSIBLE_DEGREES.items()]
    return pd.DataFrame(rows, columns=["joint", "movement", "min_degrees", "max_degrees"])
