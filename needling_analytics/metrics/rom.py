"""Range of motion (ROM): change from the first to the latest reading, against measurement error.

Definitions (see ``docs/metrics.md``):

- A *series* is one episode, joint, movement, side and mode (active or
  passive; a reading without a mode forms its own series, never mixed with
  active or passive ones).
- *Baseline*: the series' first reading, by ``measured_on``, then the order
  of its session (date, time, ID), then the table's row order. *Latest*: the
  last reading on a **later day** than the baseline (a second reading on the
  same day is a repeat, not a follow-up), missing when there is none.
- By default (``same_device_only=True``) only readings by the baseline's
  device count as the latest: gains are compared within one device
  (DOMAIN.md). A series with later readings by other devices only is
  "not comparable". Readings with no device recorded (e.g. from a wide
  export column) are compared with one another, against the MDC of the
  clinic's commonest device for that joint and movement.
- *Gain* = latest - baseline, degrees. Larger is better for every movement;
  this holds for deficits too as long as they are recorded as negative
  angles (knee or elbow extension lag of 10 degrees = -10), as the loader's
  plausible limits assume (``reference.plausible_degrees``).
- A gain counts as real only beyond the minimal detectable change (MDC95)
  for the joint, device and rater situation (:func:`~.norms.mdc_table`);
  gains inside it are "within measurement error" (Fletcher & Bandy 2008;
  de Winter 2004).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..clinic import Clinic
from ..schema import ROM_DEVICES
from .norms import resolve_mdc, resolve_normal

#: Tolerance so that a gain equal to the MDC in floating point is not "beyond" it.
_EPS = 1e-9

SERIES = ["episode_id", "joint", "movement", "side", "mode"]

IMPROVED = "improved beyond measurement error"
WITHIN = "within measurement error"
WORSE = "worse beyond measurement error"
NOT_COMPARABLE = "not comparable"
NO_FOLLOW_UP = "no follow-up"
CHANGE_CLASSES = (IMPROVED, WITHIN, WORSE, NOT_COMPARABLE, NO_FOLLOW_UP)

COLUMNS = [
    "episode_id", "patient_id", "joint", "movement", "side", "mode", "n_readings", "baseline_date", "latest_date",
    "baseline_degrees", "latest_degrees", "gain_degrees", "normal_degrees", "baseline_pct_normal", "latest_pct_normal",
    "device", "latest_device", "same_device", "same_rater", "rater_flag", "mdc_degrees", "beyond_mdc", "change_class",
    "no_device_readings", "mdc_device",
]  # fmt: skip


def _ordered_readings(clinic) -> pd.DataFrame:
    """Usable ROM readings sorted by series, then date, session time, session ID and row order."""
    rom = clinic.rom
    usable = rom["degrees"].notna() & rom["measured_on"].notna() & rom["joint"].notna() & rom["movement"].notna()
    columns = [*SERIES, "patient_id", "measured_on", "degrees", "session_id", "device", "rater_id"]
    readings = rom.loc[usable, columns].reset_index(drop=True)
    readings["_row"] = np.arange(len(readings))
    times = clinic.sessions[["session_id", "session_time"]].drop_duplicates("session_id")
    readings = readings.merge(times, on="session_id", how="left")
    order = [*SERIES, "measured_on", "session_time", "session_id", "_row"]
    return readings.sort_values(order, na_position="last", kind="stable").reset_index(drop=True)


def _lookup(table: pd.Series, *keys: np.ndarray) -> np.ndarray:
    """Values of ``table`` (indexed by a MultiIndex) at the given keys; NaN where absent."""
    index = pd.MultiIndex.from_arrays(list(keys))
    return table.reindex(index).to_numpy(dtype="float64", na_value=np.nan)


def rom_change(clinic: Clinic, *, same_device_only: bool = True, mdc=None, normal=None) -> pd.DataFrame:
    """Change in range of motion of every series, judged against measurement error.

    Parameters
    ----------
    clinic : Clinic
        The loaded clinic (``rom``; ``sessions`` for the order of readings
        taken on the same day).
    same_device_only : bool
        Compare the baseline only with later readings by the same device
        (default, DOMAIN.md). When False, the latest reading of any device
        is used and the larger of the two devices' MDCs applies.
    mdc : DataFrame or dict, optional
        Overrides of the MDC table (:func:`~.norms.mdc_table`): a DataFrame
        with ``joint``, ``device``, ``same_rater``, ``mdc_degrees`` or a
        dict ``{(joint, device, same_rater): degrees}``; other rows keep
        their defaults.
    normal : DataFrame or dict, optional
        Overrides of the normal ranges (:func:`~.norms.normal_rom`): a
        DataFrame with ``joint``, ``movement``, ``normal_degrees`` or a dict
        ``{(joint, movement): degrees}``.

    Returns
    -------
    DataFrame
        One row per series (episode, joint, movement, side, mode) with at
        least one reading, sorted by those keys:

        - ``episode_id``, ``patient_id``, ``joint``, ``movement``, ``side``,
          ``mode`` (missing mode is its own series);
        - ``n_readings``: readings in the series (any device);
        - ``baseline_date``, ``latest_date``; ``baseline_degrees``,
          ``latest_degrees`` (degrees; latest missing when there is no
          comparable later reading);
        - ``gain_degrees``: latest - baseline, degrees, positive is better;
        - ``normal_degrees``: the normal range used (degrees; missing where
          the table has none, e.g. knee extension);
        - ``baseline_pct_normal``, ``latest_pct_normal``: 100 x degrees /
          normal, percent;
        - ``device``: the baseline's device; ``latest_device``;
        - ``same_device`` (nullable boolean): the latest reading used the
          baseline's device; False for "not comparable"; NA with no
          follow-up, and when neither reading has a device;
        - ``same_rater`` (nullable boolean): the same ``rater_id`` took
          both readings; NA when either rater is unknown or there is no
          latest reading;
        - ``rater_flag`` (bool): True when two different raters took the
          readings (their gain is judged against the inter-rater MDC);
        - ``mdc_degrees``: the MDC95 applied, degrees (the different-rater
          value when ``same_rater`` is not True; the larger of the two
          devices' values when they differ; a missing device counts as
          ``other``, except between two readings without a device, which
          get the MDC of the clinic's commonest device for the joint and
          movement); missing with no latest reading;
        - ``beyond_mdc`` (nullable boolean): |gain| > MDC (a gain exactly at
          the MDC is not beyond it); NA with no latest reading;
        - ``change_class``: "improved beyond measurement error", "within
          measurement error", "worse beyond measurement error", "not
          comparable" (later readings exist, but none by the baseline's
          device, or the baseline's device is unknown, while
          ``same_device_only``) or "no follow-up";
        - ``no_device_readings``: readings of the series with no device
          recorded (count); ``mdc_device``: the device whose MDC was used
          for two readings without a device (missing otherwise).

        ``attrs["same_device_only"]`` records the option;
        ``attrs["no_device_readings"]`` the readings without a device.

    Examples
    --------
    >>> from needling_analytics.demo import generate_clinic
    >>> from needling_analytics.clinic import Clinic
    >>> change = rom_change(Clinic.from_frames(**generate_clinic(n_patients=50, seed=1)))
    >>> sorted(change["change_class"].unique())[:2]
    ['improved beyond measurement error', 'no follow-up']
    """
    if not isinstance(same_device_only, bool | np.bool_):
        raise ValueError(f"`same_device_only` must be True or False, got {same_device_only!r}")
    mdc_table = resolve_mdc(mdc)
    normal_table = resolve_normal(normal)

    readings = _ordered_readings(clinic)
    n = len(readings)
    group = (
        readings.groupby(SERIES, sort=False, dropna=False, observed=True).ngroup().to_numpy() if n else np.zeros(0, int)
    )
    first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if n else np.zeros(0, int)
    n_groups = len(first)

    dates = readings["measured_on"].to_numpy()
    categories = pd.CategoricalDtype(list(ROM_DEVICES))
    device = readings["device"].astype(categories).cat.codes.to_numpy()  # -1 where missing
    no_device = device < 0
    assumed = _commonest_device(readings, device)  # per reading: the clinic's commonest for its joint and movement
    later = dates > dates[first][group]
    # readings without a device are compared with one another (missing == missing), never with a known device
    comparable = later & (device == device[first][group]) if same_device_only else later
    candidates = np.flatnonzero(comparable)
    last_of_group = (
        candidates[np.r_[group[candidates][1:] != group[candidates][:-1], True]] if len(candidates) else candidates
    )
    latest = np.full(n_groups, -1)
    latest[group[last_of_group]] = last_of_group
    has_latest = latest >= 0
    any_later = np.zeros(n_groups, dtype=bool)
    any_later[group[later]] = True

    out = readings.loc[first, [*SERIES, "patient_id"]].reset_index(drop=True)
    out["n_readings"] = np.bincount(group, minlength=n_groups).astype("int64")
    out["no_device_readings"] = np.bincount(group[no_device], minlength=n_groups).astype("int64")
    take = np.where(has_latest, latest, 0)

    def at_latest(column: str, dtype: str, missing):
        values = readings[column].to_numpy(dtype=dtype, na_value=missing)[take] if n else np.array([], dtype=dtype)
        return np.where(has_latest, values, missing)

    out["baseline_date"] = readings["measured_on"].to_numpy()[first]
    out["latest_date"] = pd.to_datetime(at_latest("measured_on", "datetime64[ns]", np.datetime64("NaT")))
    out["baseline_degrees"] = readings["degrees"].to_numpy(dtype="float64")[first]
    out["latest_degrees"] = at_latest("degrees", "float64", np.nan)
    out["gain_degrees"] = out["latest_degrees"] - out["baseline_degrees"]

    joint = out["joint"].astype(str).to_numpy()
    movement = out["movement"].astype(str).to_numpy()
    normal_by = normal_table.set_index(["joint", "movement"])["normal_degrees"]
    normal_degrees = _lookup(normal_by, joint, movement) if n_groups else np.array([], dtype=float)
    normal_degrees = np.where(normal_degrees > 0, normal_degrees, np.nan)
    out["normal_degrees"] = normal_degrees
    out["baseline_pct_normal"] = 100.0 * out["baseline_degrees"] / out["normal_degrees"]
    out["latest_pct_normal"] = 100.0 * out["latest_degrees"] / out["normal_degrees"]

    base_device = device[first]
    latest_device = np.where(has_latest, device[take] if n else base_device, -1)
    out["device"] = pd.Categorical.from_codes(base_device, dtype=categories)
    out["latest_device"] = pd.Categorical.from_codes(latest_device, dtype=categories)
    same_device = (base_device == latest_device) & (base_device >= 0)
    not_comparable = ~has_latest & any_later & same_device_only
    out["same_device"] = pd.array(
        np.where(
            has_latest & ~((base_device < 0) & (latest_device < 0)),
            same_device,
            np.where(not_comparable, False, None),
        ),
        dtype="boolean",
    )

    rater = pd.factorize(readings["rater_id"])[0]  # -1 where unknown
    base_rater = rater[first]
    latest_rater = np.where(has_latest, rater[take] if n else base_rater, -1)
    known = has_latest & (base_rater >= 0) & (latest_rater >= 0)
    rater_key = known & (base_rater == latest_rater)
    out["same_rater"] = pd.array(np.where(known, rater_key, None), dtype="boolean")
    out["rater_flag"] = known & (base_rater != latest_rater)

    mdc_by = mdc_table.set_index(["joint", "device", "same_rater"])["mdc_degrees"]
    device_names = np.array([*ROM_DEVICES, "other"], dtype=object)  # code -1 (missing) reads as "other"
    # two readings without a device are judged with the MDC of the clinic's commonest device for the joint and
    # movement; a missing device beside a known one (same_device_only=False) still counts as "other"
    base_assumed = assumed[first] if n else np.zeros(0, dtype=int)
    stand_in = has_latest & (base_device < 0) & (latest_device < 0) & (base_assumed >= 0)
    mdc_base_device = np.where(stand_in, base_assumed, base_device)
    mdc_latest_device = np.where(stand_in, base_assumed, latest_device)
    out["mdc_device"] = pd.array(
        np.where(stand_in, device_names[np.where(stand_in, base_assumed, 0)], None), dtype="string"
    )
    if n_groups:
        mdc_base = _lookup(mdc_by, joint, device_names[mdc_base_device], rater_key)
        mdc_latest = _lookup(mdc_by, joint, device_names[mdc_latest_device], rater_key)
        mdc_used = np.where(has_latest, np.fmax(mdc_base, mdc_latest), np.nan)
    else:
        mdc_used = np.array([], dtype=float)
    out["mdc_degrees"] = mdc_used

    gain = out["gain_degrees"].to_numpy()
    with np.errstate(invalid="ignore"):
        improved = gain > mdc_used + _EPS
        worse = gain < -(mdc_used + _EPS)
    assessed = has_latest & ~np.isnan(mdc_used)
    out["beyond_mdc"] = pd.array(np.where(assessed, improved | worse, None), dtype="boolean")
    change_class = np.select(
        [not_comparable, ~has_latest, ~assessed, improved, worse],
        [NOT_COMPARABLE, NO_FOLLOW_UP, NOT_COMPARABLE, IMPROVED, WORSE],
        default=WITHIN,
    )
    out["change_class"] = pd.Series(change_class, index=out.index, dtype="string")
    out = out[COLUMNS]
    out.attrs["same_device_only"] = bool(same_device_only)
    out.attrs["no_device_readings"] = int(no_device.sum())
    return out


def _commonest_device(readings: pd.DataFrame, device: np.ndarray) -> np.ndarray:
    """Code of the commonest recorded device for each reading's joint and movement (-1 when none is recorded).

    Counted over every usable reading of the clinic with a device; a tie
    goes to the device listed first in the data model (``ROM_DEVICES``).
    """
    if not len(readings):
        return np.zeros(0, dtype=int)
    keys = pd.MultiIndex.from_arrays([readings["joint"].astype(str), readings["movement"].astype(str)])
    known = device >= 0
    counts = pd.DataFrame({"key": keys[known], "device": device[known]}).value_counts().reset_index(name="n")
    counts = counts.sort_values(["n", "device"], ascending=[False, True], kind="stable").drop_duplicates("key")
    commonest = pd.Series(counts["device"].to_numpy(), index=pd.Index(counts["key"].to_numpy()))
    return commonest.reindex(keys.to_flat_index()).fillna(-1).to_numpy(dtype=int)
