"""The canonical clinic data model: tables, columns, types and allowed values.

This module is the single source of truth for column names. Loading,
validation, the demo generator and ``docs/data-dictionary.md`` all read it.

A clinic's data is a folder holding one file per table (``<table>.csv``,
``.parquet`` or ``.xlsx``). Only ``patients``, ``episodes`` and ``sessions``
are required.

Over 400 lines on purpose: one declaration per column of every table, the
one source of truth that the data dictionary is rendered from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Column kinds and the pandas dtype each becomes once loaded.
KIND_DTYPES = {
    "id": "string",
    "text": "string",
    "time": "string",
    "date": "datetime64[ns]",
    "number": "float64",
    "integer": "Int64",
    "category": "category",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the data model.

    ``allowed`` lists the values of a category column; ``minimum`` and
    ``maximum`` bound a number (inclusive); ``default`` fills a blank cell or
    an absent optional column.
    """

    name: str
    kind: str
    required: bool = False
    description: str = ""
    unit: str = ""
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: str | None = None
    example: str = ""

    @property
    def dtype(self) -> str:
        return KIND_DTYPES[self.kind]


@dataclass(frozen=True)
class TableSpec:
    """One table of the data model.

    ``key`` names the column that identifies a row (None when rows have no
    identifier of their own); ``required`` says whether a clinic must supply
    the table.
    """

    name: str
    description: str
    columns: tuple[ColumnSpec, ...]
    required: bool = False
    key: str | None = None
    natural_key: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")


SEX = ("F", "M", "X", "U")
BODY_REGIONS = (
    "neck", "upper_back", "low_back", "shoulder", "elbow", "wrist_hand",
    "hip", "knee", "ankle_foot", "jaw", "other",
)  # fmt: skip
DISCHARGE_REASONS = ("goals_met", "self_discharged", "referred", "other")
#: ``booked``: an appointment still in the future; ``unmarked``: a past one
#: nobody marked as attended, cancelled or missed. Neither counts as attended.
SESSION_STATUSES = ("attended", "cancelled", "no_show", "booked", "unmarked")
YES_NO = ("yes", "no")
JOINTS = (
    "cervical_spine", "thoracic_spine", "lumbar_spine", "shoulder", "elbow",
    "forearm", "wrist", "hip", "knee", "ankle", "jaw", "other",
)  # fmt: skip
MOVEMENTS = (
    "flexion", "extension", "lateral_flexion", "rotation", "abduction",
    "adduction", "external_rotation", "internal_rotation", "pronation",
    "supination", "radial_deviation", "ulnar_deviation", "dorsiflexion",
    "plantarflexion", "inversion", "eversion", "opening", "other",
)  # fmt: skip
SIDES = ("left", "right", "none")
ROM_MODES = ("active", "passive")
ROM_DEVICES = ("goniometer", "inclinometer", "crom", "app", "visual", "other")
INSTRUMENTS = ("NDI", "ODI", "PSFS", "LEFS", "QuickDASH", "other")
EVENT_TYPES = (
    "bruising", "bleeding", "pain_during", "pain_after", "fatigue",
    "drowsiness", "headache", "nausea", "fainting", "infection_signs",
    "nerve_irritation", "pneumothorax", "other",
)  # fmt: skip
SEVERITIES = ("mild", "significant", "serious")
GLOBAL_CHANGE_SCALES = ("grc7", "grc15", "pgic7")
#: Range of each global-rating-of-change scale.
GLOBAL_CHANGE_RANGES: dict[str, tuple[float, float]] = {"grc7": (-3, 3), "grc15": (-7, 7), "pgic7": (1, 7)}

_PAIN = {"kind": "number", "minimum": 0.0, "maximum": 10.0, "unit": "NPRS points (0-10)"}


def _id(name: str, description: str, example: str, required: bool = True) -> ColumnSpec:
    return ColumnSpec(name, "id", required, description, example=example)


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "patients",
            "One row per patient.",
            (
                _id(
                    "patient_id",
                    "The clinic's identifier for the patient; kept as text, leading zeros included.",
                    "P0001",
                ),
                ColumnSpec(
                    "birth_year", "integer", description="Year of birth.", unit="year", minimum=1900, example="1978"
                ),
                ColumnSpec(
                    "sex",
                    "category",
                    description="Sex as recorded: F female, M male, X another, U unknown.",
                    allowed=SEX,
                    example="F",
                ),
                ColumnSpec(
                    "first_name",
                    "text",
                    description="Given name (identifying: never leaves the clinic).",
                    example="Ana",
                ),
                ColumnSpec(
                    "last_name",
                    "text",
                    description="Family name (identifying: never leaves the clinic).",
                    example="Silva",
                ),
                ColumnSpec("postcode", "text", description="Postal code of residence (identifying).", example="02134"),
            ),
            required=True,
            key="patient_id",
        ),
        TableSpec(
            "episodes",
            "One row per course of care: from the first consultation to discharge.",
            (
                _id("episode_id", "Identifier of the course of care.", "E00001"),
                _id("patient_id", "The patient treated; must be in `patients`.", "P0001"),
                ColumnSpec("start_date", "date", True, "Date of the initial consultation.", example="2026-03-02"),
                ColumnSpec(
                    "end_date",
                    "date",
                    description="Discharge date; blank while the episode is ongoing. Not before `start_date`.",
                    example="2026-04-20",
                ),
                ColumnSpec(
                    "body_region", "category", description="Main region treated.", allowed=BODY_REGIONS, example="neck"
                ),
                ColumnSpec(
                    "condition",
                    "text",
                    description="Working diagnosis in the clinic's words.",
                    example="mechanical neck pain",
                ),
                ColumnSpec(
                    "symptom_duration_weeks",
                    "number",
                    description="How long symptoms had lasted at the first visit.",
                    unit="weeks",
                    minimum=0,
                    maximum=5200,
                    example="12",
                ),
                ColumnSpec(
                    "discharge_reason",
                    "category",
                    description="Why the episode ended (blank while ongoing).",
                    allowed=DISCHARGE_REASONS,
                    example="goals_met",
                ),
            ),
            required=True,
            key="episode_id",
        ),
        TableSpec(
            "sessions",
            "One row per booked appointment, attended or not.",
            (
                _id("session_id", "Identifier of the appointment.", "S000001"),
                _id("episode_id", "The course of care; must be in `episodes`.", "E00001"),
                _id("patient_id", "The patient; must match the episode's patient.", "P0001"),
                _id(
                    "practitioner_id",
                    "The treating practitioner; blank when not recorded (REDCap and FHIR often have none).",
                    "PR01",
                    required=False,
                ),
                ColumnSpec(
                    "session_date",
                    "date",
                    True,
                    "Date of the appointment; within the episode's dates.",
                    example="2026-03-09",
                ),
                ColumnSpec("session_time", "time", description="Start time, 24-hour HH:MM.", example="14:30"),
                ColumnSpec(
                    "status",
                    "category",
                    description="Whether the patient came: attended, cancelled, no_show, booked (still in the future) "
                    "or unmarked (past, never marked). Blank means attended.",
                    allowed=SESSION_STATUSES,
                    default="attended",
                    example="attended",
                ),
                ColumnSpec(
                    "pain_pre",
                    description="Pain before needling, Numeric Pain Rating Scale (decimals allowed, e.g. a 100 mm VAS divided by 10).",
                    example="6",
                    **_PAIN,
                ),
                ColumnSpec("pain_post", description="Pain just after needling, same scale.", example="4", **_PAIN),
                ColumnSpec(
                    "needles",
                    "integer",
                    description="Number of needles inserted.",
                    unit="needles",
                    minimum=0,
                    maximum=100,
                    example="6",
                ),
                ColumnSpec(
                    "muscles",
                    "text",
                    description="Muscles needled, separated by semicolons.",
                    example="upper trapezius;levator scapulae",
                ),
                ColumnSpec(
                    "twitch_response",
                    "category",
                    description="Whether a local twitch response was elicited.",
                    allowed=YES_NO,
                    example="yes",
                ),
            ),
            required=True,
            key="session_id",
        ),
        TableSpec(
            "rom",
            "One row per range-of-motion reading.",
            (
                _id("patient_id", "The patient.", "P0001"),
                _id("episode_id", "The course of care.", "E00001"),
                ColumnSpec(
                    "measured_on",
                    "date",
                    True,
                    "Date of the reading; within the episode's dates.",
                    example="2026-03-02",
                ),
                ColumnSpec(
                    "joint",
                    "category",
                    True,
                    "Joint or spinal region measured.",
                    allowed=JOINTS,
                    example="cervical_spine",
                ),
                ColumnSpec("movement", "category", True, "Movement measured.", allowed=MOVEMENTS, example="rotation"),
                ColumnSpec(
                    "side",
                    "category",
                    True,
                    "Side measured; `none` for midline movements such as neck flexion.",
                    allowed=SIDES,
                    example="left",
                ),
                ColumnSpec(
                    "degrees",
                    "number",
                    True,
                    "The reading; must be plausible for the joint and movement (see below).",
                    unit="degrees",
                    example="62",
                ),
                _id(
                    "session_id",
                    "The session in which it was measured, if any; must be in `sessions`.",
                    "S000001",
                    required=False,
                ),
                ColumnSpec(
                    "mode",
                    "category",
                    description="Active (patient moves) or passive (examiner moves).",
                    allowed=ROM_MODES,
                    example="active",
                ),
                ColumnSpec(
                    "device",
                    "category",
                    description="Instrument used; gains are compared within one device.",
                    allowed=ROM_DEVICES,
                    example="crom",
                ),
                _id("rater_id", "Who measured (a practitioner ID).", "PR01", required=False),
            ),
        ),
        TableSpec(
            "proms",
            "One row per completed questionnaire (patient-reported outcome measure).",
            (
                _id("patient_id", "The patient.", "P0001"),
                _id("episode_id", "The course of care.", "E00001"),
                ColumnSpec("completed_on", "date", True, "Date completed.", example="2026-03-02"),
                ColumnSpec(
                    "instrument",
                    "category",
                    True,
                    "Questionnaire; the score must lie in its range (see below).",
                    allowed=INSTRUMENTS,
                    example="NDI",
                ),
                ColumnSpec(
                    "score",
                    "number",
                    True,
                    "Total score in the instrument's own units (NDI as raw 0-50 points).",
                    unit="instrument points",
                    example="18",
                ),
            ),
        ),
        TableSpec(
            "adverse_events",
            "One row per adverse event linked to a treatment session.",
            (
                _id("session_id", "The attended session after which it happened; must be in `sessions`.", "S000001"),
                _id("patient_id", "The patient; must match the session's patient.", "P0001"),
                ColumnSpec("event_type", "category", True, "What happened.", allowed=EVENT_TYPES, example="bruising"),
                ColumnSpec(
                    "severity",
                    "category",
                    True,
                    "mild: short and reversible; significant: needed care or stopped activities; serious: hospital, lasting harm or death (White et al.).",
                    allowed=SEVERITIES,
                    example="mild",
                ),
                ColumnSpec(
                    "resolved_days",
                    "number",
                    description="Days until it resolved.",
                    unit="days",
                    minimum=0,
                    maximum=365,
                    example="4",
                ),
                ColumnSpec(
                    "notes",
                    "text",
                    description="Free text (may identify the patient: never exported).",
                    example="bruise 2 cm, upper trapezius",
                ),
            ),
        ),
        TableSpec(
            "assessments",
            "One row per follow-up assessment outside a treatment session (a phone call, a questionnaire at "
            "week 2 or 4, a research visit). Its pain counts as a reading of the course's pain outcome.",
            (
                _id("patient_id", "The patient.", "P0001"),
                _id("episode_id", "The course of care; must be in `episodes`.", "E00001"),
                ColumnSpec(
                    "assessed_on",
                    "date",
                    True,
                    "Date of the assessment; within the episode's dates.",
                    example="2026-04-06",
                ),
                ColumnSpec("pain", description="Pain at the assessment (0-10).", example="3", **_PAIN),
                ColumnSpec(
                    "global_change",
                    "number",
                    description="Patient's global rating of change, on the scale named in `global_change_scale`.",
                    unit="scale points",
                    example="2",
                ),
                ColumnSpec(
                    "global_change_scale",
                    "category",
                    description="Scale of `global_change`: grc7 (-3 much worse .. +3 much better), "
                    "grc15 (-7 .. +7) or pgic7 (1 very much improved .. 7 very much worse).",
                    allowed=GLOBAL_CHANGE_SCALES,
                    example="grc7",
                ),
                _id("assessment_id", "Identifier of the assessment, if the source has one.", "A0001", required=False),
            ),
        ),
        TableSpec(
            "journal",
            "One row per day in the patient's home symptom diary.",
            (
                _id("patient_id", "The patient.", "P0001"),
                ColumnSpec("entry_date", "date", True, "Day the entry describes.", example="2026-03-10"),
                ColumnSpec("pain", description="Pain that day (0-10).", required=True, example="5", **_PAIN),
                ColumnSpec(
                    "stiffness",
                    description="Stiffness that day (0-10, higher is stiffer).",
                    example="4",
                    **{**_PAIN, "unit": "points (0-10)"},
                ),
                ColumnSpec(
                    "mobility",
                    description="Ease of movement that day (0-10, higher is better).",
                    example="6",
                    **{**_PAIN, "unit": "points (0-10)"},
                ),
                ColumnSpec(
                    "activity_note",
                    "text",
                    description="What the patient managed or struggled with.",
                    example="walked 30 minutes",
                ),
            ),
            natural_key=("patient_id", "entry_date"),
        ),
    )
}

#: Tables a clinic must supply.
REQUIRED_TABLES = tuple(name for name, t in TABLES.items() if t.required)

#: Plausible score range of each questionnaire, in its own units.
INSTRUMENT_RANGES: dict[str, tuple[float, float]] = {
    "NDI": (0, 50),
    "ODI": (0, 100),
    "PSFS": (0, 10),
    "LEFS": (0, 80),
    "QuickDASH": (0, 100),
    "other": (-1e9, 1e9),
}
