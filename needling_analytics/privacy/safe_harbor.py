"""What the research export keeps, what it removes and why (HIPAA Safe Harbor), and the README that says so.

The export is built from an allow-list (:data:`COLUMNS`): a column the data
model gains later, or an extra column a clinic's file carries, is left out
until someone decides how to export it. :data:`REMOVED` records why each
data-model column that is not exported as such was left out; both feed the
``README.md`` written into the export (:func:`export_readme`).

Sources: 45 CFR 164.514(b)(2) (Safe Harbor) and 164.514(c)
(re-identification codes); HHS Office for Civil Rights, *Guidance Regarding
Methods for De-identification of Protected Health Information* (November
2012), for the three-digit ZIP codes with 20,000 or fewer people; the
Privacy section of ``DOMAIN.md``.
"""

from __future__ import annotations

import pandas as pd

#: Three-digit ZIP codes whose area had 20,000 or fewer people (2000 Census,
#: HHS de-identification guidance, November 2012): always exported as "000".
RESTRICTED_ZIP3 = frozenset(
    {
        "036",
        "059",
        "063",
        "102",
        "203",
        "556",
        "692",
        "790",
        "821",
        "823",
        "830",
        "831",
        "878",
        "879",
        "884",
        "890",
        "893",
    }
)
#: Age bands, youngest first; ages of 90 and over are pooled (45 CFR 164.514(b)(2)(i)(C)).
AGE_BANDS = tuple(f"{low}-{low + 4}" for low in range(0, 90, 5)) + ("90+",)
AGE_BAND_DTYPE = pd.CategoricalDtype(list(AGE_BANDS), ordered=True)

#: The exported columns of each table, in order, and how each was made.
COLUMNS: dict[str, dict[str, str]] = {
    "patients": {
        "patient_id": "keyed pseudonym of the patient ID (`P` + 16 hex characters)",
        "sex": "as recorded (F, M, X, U)",
        "age_band": "5-year band of the age at the patient's first episode (start year minus birth year); 90 and over as `90+`; blank without a birth year or an episode",
        "zip3": "first 3 characters of the postcode when the prefix was allowed (see below), else `000`; blank without a postcode",
    },
    "episodes": {
        "episode_id": "keyed pseudonym of the episode ID (`E` + 16 hex characters)",
        "patient_id": "keyed pseudonym of the patient ID",
        "start_year": "calendar year of the episode start (the only date element kept)",
        "end_day": "days from the episode start to discharge; blank while ongoing",
        "age_band": "5-year band of the age in the start year (start year minus birth year); 90 and over as `90+`",
        "body_region": "as recorded",
        "symptom_duration_weeks": "as recorded",
        "discharge_reason": "as recorded",
    },
    "sessions": {
        "session_id": "keyed pseudonym of the session ID (`S` + 16 hex characters)",
        "episode_id": "keyed pseudonym of the episode ID",
        "patient_id": "keyed pseudonym of the patient ID",
        "practitioner_id": "keyed pseudonym of the practitioner ID (`PR` + 16 hex characters)",
        "session_day": "days from the episode start to the appointment (0 = first consultation day)",
        "status": "as recorded",
        "pain_pre": "as recorded",
        "pain_post": "as recorded",
        "needles": "as recorded",
        "muscles": "as recorded: a list of muscle names, clinical vocabulary rather than free text about the patient",
        "twitch_response": "as recorded",
    },
    "rom": {
        "patient_id": "keyed pseudonym of the patient ID",
        "episode_id": "keyed pseudonym of the episode ID",
        "measured_day": "days from the episode start to the reading",
        "joint": "as recorded",
        "movement": "as recorded",
        "side": "as recorded",
        "degrees": "as recorded",
        "session_id": "keyed pseudonym of the session ID",
        "mode": "as recorded",
        "device": "as recorded",
        "rater_id": "keyed pseudonym of the rater, made as a practitioner ID (so it matches `sessions.practitioner_id`)",
    },
    "proms": {
        "patient_id": "keyed pseudonym of the patient ID",
        "episode_id": "keyed pseudonym of the episode ID",
        "completed_day": "days from the episode start to completion",
        "instrument": "as recorded",
        "score": "as recorded",
    },
    "adverse_events": {
        "session_id": "keyed pseudonym of the session ID",
        "episode_id": "keyed pseudonym of the session's episode (added to link the event to its episode); blank if the session is unknown",
        "patient_id": "keyed pseudonym of the patient ID",
        "event_type": "as recorded",
        "severity": "as recorded",
        "resolved_days": "as recorded",
    },
    "assessments": {
        "patient_id": "keyed pseudonym of the patient ID",
        "episode_id": "keyed pseudonym of the episode ID",
        "assessed_day": "days from the episode start to the assessment",
        "pain": "as recorded",
        "global_change": "as recorded",
        "global_change_scale": "as recorded (grc7, grc15, pgic7)",
        "assessment_id": "keyed pseudonym of the source's assessment ID (`A` + 16 hex characters); blank when it had none",
    },
    "journal": {
        "patient_id": "keyed pseudonym of the patient ID",
        "episode_id": "keyed pseudonym of the episode the entry is linked to: the patient's episode whose dates contain the entry day (the latest-starting one if several do), else the latest episode started before it",
        "entry_day": "days from the start of that episode to the entry",
        "pain": "as recorded",
        "stiffness": "as recorded",
        "mobility": "as recorded",
    },
}

#: Data-model columns not exported as such, and why.
REMOVED: dict[str, dict[str, str]] = {
    "patients": {
        "first_name": "name (Safe Harbor identifier A)",
        "last_name": "name (Safe Harbor identifier A)",
        "birth_year": "replaced by `age_band`: a birth year would reveal ages over 89 (identifier C)",
        "postcode": "geographic subdivision smaller than a State (identifier B); only `zip3` is kept",
    },
    "episodes": {
        "start_date": "date (identifier C); only `start_year` is kept and other dates are counted from it",
        "end_date": "date (identifier C); replaced by `end_day`",
        "condition": "free text in the clinic's words, which may name people, places or dates; `body_region` is kept",
    },
    "sessions": {
        "session_date": "date (identifier C); replaced by `session_day`",
        "session_time": "time of day: an element of a date (identifier C), of no research use without the date",
    },
    "rom": {"measured_on": "date (identifier C); replaced by `measured_day`"},
    "proms": {"completed_on": "date (identifier C); replaced by `completed_day`"},
    "adverse_events": {"notes": "free text, which may identify the patient (the data model says: never exported)"},
    "assessments": {"assessed_on": "date (identifier C); replaced by `assessed_day`"},
    "journal": {
        "entry_date": "date (identifier C); replaced by `entry_day`",
        "activity_note": "free text written by the patient, which may identify them",
    },
}


def export_readme(tables: dict[str, pd.DataFrame], dropped_journal: int, allowed: frozenset[str]) -> str:
    """The export's ``README.md``: its tables and rows, what was removed, how each value was made, and the sources.

    ``dropped_journal`` counts the journal entries left out; ``allowed`` holds
    the three-digit postcode prefixes the clinic allowed.
    """
    lines = [
        "# De-identified research export",
        "",
        "Written by needling-analytics (`export_research`) following the HIPAA Safe Harbor method, "
        "45 CFR 164.514(b)(2). Each table is given as CSV (text cells starting with `=`, `+`, `-` or `@` "
        "are prefixed with `'` so that spreadsheets do not run them as formulas) and as Parquet (values unchanged).",
        "",
        "## Tables",
        "",
        "| table | rows | files |",
        "|---|---:|---|",
    ]
    lines += [f"| {name} | {len(frame):,} | `{name}.csv`, `{name}.parquet` |" for name, frame in tables.items()]
    lines += [
        "",
        f"{dropped_journal:,} journal entr{'y was' if dropped_journal == 1 else 'ies were'} left out: "
        "dated before every episode of the patient, so no day since an episode start could be given.",
        "",
        "## What was removed",
        "",
    ]
    for name, removed in REMOVED.items():
        lines += [f"- `{name}.{column}`: {reason}" for column, reason in removed.items()]
    lines += [
        "- Columns outside the data model, if the clinic's files had any: the export is an allow-list.",
        "",
        "## How each exported value was made",
        "",
    ]
    for name, columns in COLUMNS.items():
        lines += [f"### {name}", ""] + [f"- `{column}`: {how}" for column, how in columns.items()] + [""]
    lines += [
        "Days are whole calendar days counted from the start of the row's episode (the day of the first "
        "consultation is day 0). Sessions, ROM readings and questionnaires use their own episode; adverse "
        "events their session's episode; journal entries the episode described above.",
        "",
        "Ages are the start year minus the birth year (the age reached during that year), so a band can be one "
        "year older than the exact age on the day; everyone whose age is 90 or more is in `90+`.",
        "",
        f"Postcodes: {len(allowed - RESTRICTED_ZIP3)} three-digit prefix(es) were allowed by the clinic as areas "
        "of more than 20,000 people according to current Census data; every other postcode, and the 17 prefixes "
        "HHS lists as 20,000 or fewer people, is `000`. Without a population table no prefix is allowed.",
        "",
        "## Pseudonyms and the key",
        "",
        "Patient, episode, session and practitioner IDs are replaced by the first 16 hex characters of "
        "HMAC-SHA256(key, kind + ':' + ID), prefixed `P`, `E`, `S` or `PR`. The key is a secret held by the "
        "clinic and is not part of this export. The same key gives the same pseudonyms in every export, so the "
        "clinic must keep it (to link future exports to this one) and keep it secret: with the key and the clinic's "
        "IDs, anyone could re-identify the rows (45 CFR 164.514(c): the means of re-identification must not be "
        "disclosed). A different key gives unrelated pseudonyms.",
        "",
        "## Before sharing",
        "",
        "- Safe Harbor also requires that the clinic has no actual knowledge that the remaining information could "
        "identify a patient, alone or with other information (45 CFR 164.514(b)(2)(ii)). In a small clinic a rare "
        "combination (sex, age band, body region, start year) can single someone out: review rare rows first.",
        "- `muscles` is kept as recorded: check it holds only muscle names.",
        "",
        "## Sources",
        "",
        "- 45 CFR 164.514(b)(2), de-identification by the Safe Harbor method (identifiers A names, B geography, "
        "C dates and ages over 89, H medical record numbers, R other unique codes).",
        "- 45 CFR 164.514(c), re-identification codes.",
        "- HHS Office for Civil Rights, Guidance Regarding Methods for De-identification of Protected Health "
        "Information (November 2012): the three-digit ZIP codes with 20,000 or fewer people (2000 Census).",
        "",
    ]
    return "\n".join(lines)
