"""Reference tables for the ROM and questionnaire metrics: normal ranges, MDCs, MCIDs.

Each table is a function returning a new DataFrame with a ``source`` column,
so a report can print where every number comes from. :func:`normal_rom` and
:func:`mdc_table` can be overridden per call (``rom_change(normal=..., mdc=...)``);
:func:`instrument_table` through ``prom_change(instruments=...)``.

Sources checked for this table (see ``docs/metrics.md``):

- Upper limb normal values: AAOS column of Norkin & White, *Measurement of
  Joint Motion* (5th ed., F. A. Davis 2016), Table A.1 "Shoulder, Elbow,
  Forearm, and Wrist Motion: Mean Values in Degrees" (checked).
- Ankle: dorsiflexion 20, plantarflexion 50, inversion 35, eversion 15
  (AAOS; checked against World J Orthop 2017;8:21 Table 5). Hip and knee:
  AAOS values as tabulated by Norkin & White Table A.2 (hip flexion 120 and
  knee flexion 135 checked; the other hip figures not checked against the
  table itself).
- Cervical and lumbar spine: AMA *Guides to the Evaluation of Permanent
  Impairment*, 5th ed. (2001), which match DOMAIN.md's ranges (not checked
  against the Guides). Thoracic spine and lumbar rotation: midpoints of the
  ranges in Magee, *Orthopedic Physical Assessment* (ranges checked only on
  secondary pages).
- MDC: Fletcher & Bandy 2008 (JOSPT 38:640) and Anwar 2022 (Anaesth Pain
  Intensive Care 26:503) for the CROM; de Winter 2004 (BMC Musculoskelet
  Disord 5:18) for the shoulder; the knee study of goniometer, inclinometer
  and app (Int J Sports Med 2024, doi:10.1055/a-2321-0516) for the knee.
- Questionnaires: Young 2009 (Spine J 9:802), Ostelo 2008 (Spine 33:90),
  Abbott & Schmitt 2014 (JOSPT 44:560), Binkley 1999 (Phys Ther 79:371),
  van Kampen 2013 (J Orthop Surg Res 8:40), Rysstad 2020 (BMC Musculoskelet
  Disord 21:328).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..schema import INSTRUMENT_RANGES, INSTRUMENTS, JOINTS, MOVEMENTS, ROM_DEVICES

_N_W_A1 = "AAOS; Norkin & White 5th ed. Table A.1"
_N_W_A2 = "AAOS; Norkin & White 5th ed. Table A.2"
_AMA = "AMA Guides 5th ed. (2001); DOMAIN.md"
_MAGEE = "midpoint of Magee, Orthopedic Physical Assessment"

#: (joint, movement) -> (normal degrees, source). Movements whose normal end
#: position is 0 degrees (elbow and knee extension) are left out: a percent
#: of 0 is undefined.
_NORMAL_ROM = {
    ("cervical_spine", "flexion"): (50.0, f"{_AMA} (45-50)"),
    ("cervical_spine", "extension"): (60.0, f"{_AMA} (60-70)"),
    ("cervical_spine", "lateral_flexion"): (45.0, f"{_AMA} (45)"),
    ("cervical_spine", "rotation"): (80.0, f"{_AMA} (70-80)"),
    ("thoracic_spine", "flexion"): (32.5, f"{_MAGEE} (20-45)"),
    ("thoracic_spine", "extension"): (35.0, f"{_MAGEE} (25-45)"),
    ("thoracic_spine", "lateral_flexion"): (30.0, f"{_MAGEE} (20-40)"),
    ("thoracic_spine", "rotation"): (42.5, f"{_MAGEE} (35-50)"),
    ("lumbar_spine", "flexion"): (60.0, f"{_AMA} (60)"),
    ("lumbar_spine", "extension"): (25.0, f"{_AMA} (25)"),
    ("lumbar_spine", "lateral_flexion"): (25.0, "AMA Guides 5th ed. (2001)"),
    ("lumbar_spine", "rotation"): (10.5, f"{_MAGEE} (3-18)"),
    ("shoulder", "flexion"): (180.0, _N_W_A1),
    ("shoulder", "extension"): (60.0, _N_W_A1),
    ("shoulder", "abduction"): (180.0, _N_W_A1),
    ("shoulder", "internal_rotation"): (70.0, _N_W_A1),
    ("shoulder", "external_rotation"): (90.0, _N_W_A1),
    ("elbow", "flexion"): (150.0, _N_W_A1),
    ("forearm", "pronation"): (80.0, _N_W_A1),
    ("forearm", "supination"): (80.0, _N_W_A1),
    ("wrist", "flexion"): (80.0, _N_W_A1),
    ("wrist", "extension"): (70.0, _N_W_A1),
    ("wrist", "radial_deviation"): (20.0, _N_W_A1),
    ("wrist", "ulnar_deviation"): (30.0, _N_W_A1),
    ("hip", "flexion"): (120.0, _N_W_A2),
    ("hip", "extension"): (30.0, _N_W_A2),
    ("hip", "abduction"): (45.0, _N_W_A2),
    ("hip", "adduction"): (30.0, _N_W_A2),
    ("hip", "external_rotation"): (45.0, _N_W_A2),
    ("hip", "internal_rotation"): (45.0, _N_W_A2),
    ("knee", "flexion"): (135.0, f"{_N_W_A2} (DOMAIN.md 135-140)"),
    ("ankle", "dorsiflexion"): (20.0, f"{_N_W_A2}; World J Orthop 2017;8:21"),
    ("ankle", "plantarflexion"): (50.0, f"{_N_W_A2}; World J Orthop 2017;8:21"),
    ("ankle", "inversion"): (35.0, f"{_N_W_A2}; World J Orthop 2017;8:21"),
    ("ankle", "eversion"): (15.0, f"{_N_W_A2}; World J Orthop 2017;8:21"),
}

#: Devices read against a scale (the default MDCs apply); the others are
#: given 1.5 times those values.
_INSTRUMENTED = ("goniometer", "inclinometer", "crom", "app")
#: Factor applied to visual estimates and unknown devices ("other").
_UNINSTRUMENTED_FACTOR = 1.5
#: Default MDC95 where the literature collected in DOMAIN.md is silent.
_DEFAULT_SAME_RATER = 10.0
_DEFAULT_DIFFERENT_RATER = 25.0
_DEFAULT_SOURCE = (
    "conservative default (literature silent): {value:g} degrees, at or above the largest {which} MDC95 in DOMAIN.md"
)
_KNEE_SOURCE = "knee extension, goniometer/inclinometer/app, {which} MDC95 {range} (Int J Sports Med 2024, doi:10.1055/a-2321-0516)"
#: (joint, device, same_rater) -> (MDC95 degrees, source) from the literature.
_MDC_EVIDENCE = {
    ("cervical_spine", "crom", True): (
        9.6,
        "CROM intra-rater MDC95 5.4-9.6 (Fletcher & Bandy 2008, JOSPT 38:640) and 3.5-6.8 (Anwar 2022); largest used",
    ),
    ("shoulder", "inclinometer", False): (
        25.0,
        "digital inclinometer between two raters: under 20-25 cannot be told from error (de Winter 2004, BMC Musculoskelet Disord 5:18); 25 used",
    ),
    ("shoulder", "goniometer", False): (
        25.0,
        "de Winter 2004 (inclinometer, 20-25) applied to the goniometer, which is no more reliable",
    ),
    **{
        ("knee", device, True): (3.5, _KNEE_SOURCE.format(which="intra-rater", range="2.0-3.5"))
        for device in ("goniometer", "inclinometer", "app")
    },
    **{
        ("knee", device, False): (10.4, _KNEE_SOURCE.format(which="inter-rater", range="3.7-10.4"))
        for device in ("goniometer", "inclinometer", "app")
    },
}

#: Questionnaires: better, MCID and MDC in the instrument's own units, and sources.
_INSTRUMENTS = {
    "NDI": (
        "lower",
        7.5,
        10.2,
        "Young 2009 Spine J 9:802 (raw 0-50 points): MCID 7.5, MDC 10.2; the authors advise using 10 (the MDC) as the MCID",
    ),
    "ODI": ("lower", 10.0, np.nan, "Ostelo 2008 Spine 33:90: 10 points or 30% of baseline (odi_threshold='percent')"),
    "PSFS": (
        "higher",
        2.0,
        np.nan,
        "DOMAIN.md default 2; Abbott & Schmitt 2014 JOSPT 44:560 (1.3 small, 2.3 medium, 2.7 large); Rysstad 2020 1.9-2.0",
    ),
    "LEFS": ("higher", 9.0, 9.0, "Binkley 1999 Phys Ther 79:371: MCID 9 and MDC 9 (90% confidence)"),
    "QuickDASH": (
        "lower",
        13.4,
        17.1,
        "van Kampen 2013 J Orthop Surg Res 8:40: MIC 13.4, SDC 17.1; Rysstad 2020 BMC Musculoskelet Disord 21:328: 10.8-13.6",
    ),
    "other": (None, np.nan, np.nan, "unknown questionnaire: no direction and no MCID, improvement not classified"),
}

NORMAL_COLUMNS = ["joint", "movement", "normal_degrees", "source"]
MDC_COLUMNS = ["joint", "device", "same_rater", "mdc_degrees", "source"]
INSTRUMENT_COLUMNS = ["instrument", "better", "scale_min", "scale_max", "mcid", "mdc", "source"]


def _mdc_default(joint: str, device: str, same: bool) -> tuple[float, str]:
    """Default MDC95 (degrees) and its source for one joint, device and rater situation."""
    which = "intra-rater" if same else "inter-rater"
    default = _DEFAULT_SAME_RATER if same else _DEFAULT_DIFFERENT_RATER
    if device not in _INSTRUMENTED:
        # Never below an instrumented reading of the same joint and rater situation.
        worst = max([default, *(_MDC_EVIDENCE.get((joint, d, same), (0.0,))[0] for d in _INSTRUMENTED)])
        source = f"conservative default: {_UNINSTRUMENTED_FACTOR:g} x the instrumented {which} value ({worst:g})"
        return round(_UNINSTRUMENTED_FACTOR * worst, 1), source
    if (joint, device, same) in _MDC_EVIDENCE:
        return _MDC_EVIDENCE[(joint, device, same)]
    return default, _DEFAULT_SOURCE.format(value=default, which=which)


def normal_rom() -> pd.DataFrame:
    """Normal range of motion of each joint and movement, with its source.

    Used to express a reading as a percent of normal. Values are the usual
    adult end-range in degrees (AAOS and AMA tables; the module docstring
    says which rows were checked against which source). Elbow and knee
    extension (normal end position 0 degrees), shoulder adduction, jaw and
    ``other`` have no row, so their percent of normal is missing.

    Returns
    -------
    DataFrame
        ``joint``, ``movement`` (the vocabulary of ``schema.JOINTS`` and
        ``schema.MOVEMENTS``), ``normal_degrees`` (degrees), ``source``.
    """
    rows = [(joint, movement, value, source) for (joint, movement), (value, source) in _NORMAL_ROM.items()]
    return pd.DataFrame(rows, columns=NORMAL_COLUMNS).astype(
        {"joint": "string", "movement": "string", "source": "string"}
    )


def mdc_table() -> pd.DataFrame:
    """Default minimal detectable change (MDC95) of a ROM reading, by joint, device and rater.

    A gain at or below the MDC cannot be told from measurement error
    (DOMAIN.md). Literature values (``_MDC_EVIDENCE``): CROM cervical
    intra-rater 9.6 (the largest of 3.5-9.6: Fletcher & Bandy 2008; Anwar
    2022); shoulder between two raters 25 (de Winter 2004: 20-25); knee
    intra-rater 3.5 and inter-rater 10.4 (goniometer, inclinometer, app).
    Elsewhere conservative defaults: 10 degrees for one rater (at or above
    the largest intra-rater value, 9.6) and 25 for two raters (the upper
    end of de Winter's 20-25) with an instrumented device (goniometer,
    inclinometer, CROM, app); visual estimates and ``other`` (unknown)
    devices get 1.5 times the instrumented default, 15 and 37.5 degrees.

    Returns
    -------
    DataFrame
        One row per joint x device x same_rater: ``joint``, ``device``,
        ``same_rater`` (bool: the two readings by the same rater),
        ``mdc_degrees`` (degrees), ``source``.
    """
    rows = []
    for joint in JOINTS:
        for device in ROM_DEVICES:
            for same in (True, False):
                rows.append((joint, device, same, *_mdc_default(joint, device, same)))
    table = pd.DataFrame(rows, columns=MDC_COLUMNS)
    return table.astype({"joint": "string", "device": "string", "source": "string"})


def instrument_table() -> pd.DataFrame:
    """Questionnaires: which direction is better, score range, MCID and MDC, with sources.

    NDI is scored as raw points 0-50 (the schema's unit). Its MCID is the
    7.5 points estimated by Young 2009, inside the 10.2-point MDC; like
    QuickDASH (MIC 13.4, SDC 17.1), :func:`~.proms.prom_change` therefore
    applies max(MCID, MDC) (the authors advise the MDC). ODI and PSFS have
    no MDC in the sources used (DOMAIN.md; published values vary widely by
    population), so their MCID stands alone. ODI's
    alternative 30% threshold (Ostelo 2008) is ``odi_threshold="percent"``.
    ``other`` has no direction and no MCID.

    Returns
    -------
    DataFrame
        ``instrument``, ``better`` (``"lower"`` or ``"higher"``; missing for
        ``other``), ``scale_min``, ``scale_max`` (instrument points; missing
        for ``other``), ``mcid`` and ``mdc`` (instrument points; missing
        where unknown), ``source``.
    """
    rows = []
    for name in INSTRUMENTS:
        better, mcid, mdc, source = _INSTRUMENTS[name]
        low, high = INSTRUMENT_RANGES[name] if name != "other" else (np.nan, np.nan)
        rows.append((name, better, float(low), float(high), mcid, mdc, source))
    table = pd.DataFrame(rows, columns=INSTRUMENT_COLUMNS)
    return table.astype({"instrument": "string", "better": "string", "source": "string"})


# --- overrides ---------------------------------------------------------------------------------------------


def _check_values(values: pd.Series, name: str, *, allow_missing: bool = False) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & (values.notna() | (not allow_missing))) | (numbers < 0)
    if bad.any():
        raise ValueError(f"`{name}` values must be numbers of zero or more, got {values[bad].tolist()[0]!r}")
    return numbers.astype("float64")


def _check_vocabulary(values: pd.Series, allowed, name: str, column: str) -> None:
    unknown = sorted(set(values.dropna().astype(str)) - set(allowed))
    if unknown or values.isna().any():
        bad = unknown[0] if unknown else None
        raise ValueError(f"`{name}` has an unknown {column} {bad!r}; allowed: {list(allowed)}")


def _as_frame(table, name: str, keys: list[str], value: str) -> pd.DataFrame:
    """A user's override (DataFrame, or dict keyed by tuples) as a frame of keys + value."""
    if isinstance(table, pd.DataFrame):
        missing = [c for c in [*keys, value] if c not in table.columns]
        if missing:
            raise ValueError(
                f"`{name}` lacks column(s) {missing}; it needs {[*keys, value]}, got {list(table.columns)!r}"
            )
        return table[[*keys, value]].copy()
    if isinstance(table, Mapping):
        rows = []
        for key, number in table.items():
            key = key if isinstance(key, tuple) else (key,)
            if len(key) != len(keys):
                raise ValueError(f"`{name}` keys must be tuples {tuple(keys)}, got {key!r}")
            rows.append((*key, number))
        return pd.DataFrame(rows, columns=[*keys, value])
    raise ValueError(f"`{name}` must be a DataFrame or a dict keyed by {tuple(keys)}, got {type(table).__name__!r}")


def _merge_override(
    defaults: pd.DataFrame, override: pd.DataFrame, keys: list[str], value: str, name: str
) -> pd.DataFrame:
    """Defaults with the override's rows replacing (or adding) those with the same keys."""
    override = override.drop_duplicates(keys, keep="last")
    override = override.assign(source=f"override (`{name}=`)")
    kept = defaults.merge(override[keys], on=keys, how="left", indicator=True)
    kept = kept[kept["_merge"] == "left_only"].drop(columns="_merge")
    out = pd.concat([kept, override[[*keys, value, "source"]]], ignore_index=True)
    return out.astype({"source": "string"})


def resolve_normal(normal=None) -> pd.DataFrame:
    """The normal-range table, with a user's override applied.

    ``normal`` is None (the defaults of :func:`normal_rom`), a DataFrame with
    ``joint``, ``movement``, ``normal_degrees``, or a dict
    ``{(joint, movement): degrees}``; its rows replace the defaults with the
    same joint and movement.
    """
    defaults = normal_rom()
    if normal is None:
        return defaults
    keys = ["joint", "movement"]
    override = _as_frame(normal, "normal", keys, "normal_degrees")
    _check_vocabulary(override["joint"], JOINTS, "normal", "joint")
    _check_vocabulary(override["movement"], MOVEMENTS, "normal", "movement")
    override["normal_degrees"] = _check_values(override["normal_degrees"], "normal")
    override = override.astype({"joint": "string", "movement": "string"})
    return _merge_override(defaults, override, keys, "normal_degrees", "normal")


def resolve_mdc(mdc=None) -> pd.DataFrame:
    """The MDC table, with a user's override applied.

    ``mdc`` is None (the defaults of :func:`mdc_table`), a DataFrame with
    ``joint``, ``device``, ``same_rater``, ``mdc_degrees``, or a dict
    ``{(joint, device, same_rater): degrees}``; its rows replace the
    defaults with the same keys.
    """
    defaults = mdc_table()
    if mdc is None:
        return defaults
    keys = ["joint", "device", "same_rater"]
    override = _as_frame(mdc, "mdc", keys, "mdc_degrees")
    _check_vocabulary(override["joint"], JOINTS, "mdc", "joint")
    _check_vocabulary(override["device"], ROM_DEVICES, "mdc", "device")
    rater = override["same_rater"]
    if not rater.map(lambda v: isinstance(v, bool | np.bool_)).all():
        raise ValueError(
            f"`mdc` same_rater must be True or False, got {rater[~rater.map(lambda v: isinstance(v, bool | np.bool_))].tolist()[0]!r}"
        )
    override["same_rater"] = rater.astype(bool)
    override["mdc_degrees"] = _check_values(override["mdc_degrees"], "mdc")
    override = override.astype({"joint": "string", "device": "string"})
    return _merge_override(defaults, override, keys, "mdc_degrees", "mdc")


def resolve_instruments(instruments=None) -> pd.DataFrame:
    """The questionnaire table, with a user's override applied.

    ``instruments`` is None (the defaults of :func:`instrument_table`) or a
    DataFrame with ``instrument`` and any of ``better``, ``scale_min``,
    ``scale_max``, ``mcid``, ``mdc``; its values replace the defaults of the
    same instrument (columns it does not have keep their defaults).
    """
    defaults = instrument_table()
    if instruments is None:
        return defaults
    if not isinstance(instruments, pd.DataFrame) or "instrument" not in instruments.columns:
        raise ValueError(
            f"`instruments` must be a DataFrame with an `instrument` column (or a list of names), got {type(instruments).__name__!r}"
        )
    override = instruments.drop_duplicates("instrument", keep="last").copy()
    _check_vocabulary(override["instrument"], INSTRUMENTS, "instruments", "instrument")
    if "better" in override:
        bad = override["better"].notna() & ~override["better"].isin(["lower", "higher"])
        if bad.any():
            raise ValueError(
                f"`instruments` better must be 'lower' or 'higher', got {override.loc[bad, 'better'].tolist()[0]!r}"
            )
    for column in ("mcid", "mdc"):
        if column in override:
            override[column] = _check_values(override[column], "instruments", allow_missing=True)
    columns = [c for c in ("better", "scale_min", "scale_max", "mcid", "mdc") if c in override]
    out = defaults.set_index("instrument")
    update = override.set_index(override["instrument"].astype(str))[columns]
    for column in columns:
        out.loc[update.index, column] = update[column].to_numpy()
    out.loc[update.index, "source"] = "override (`instruments=`)"
    return out.reset_index()[INSTRUMENT_COLUMNS]
