"""Mapping files: how a clinic's own export maps onto the data model.

A mapping is a YAML file. Every key is optional; an unknown key, a
duplicate key, a column the file lacks or a value map on an ID column is
an error naming the line of the mapping. For example:

    extends: cliniko          # start from a shipped template (cliniko, jane,
                              # redcap, fhir) or another mapping file (path
                              # relative to this one); keys here override it,
                              # table by table and key by key
    source: folder            # folder (default), redcap, fhir, or a database
                              # URL postgresql://user@host:5432/db (password
                              # from `password_env` or ~/.pgpass, never here)
    password_env: CLINIC_DB_PASSWORD
    dictionary: DataDictionary.csv  # REDCap: the data dictionary beside the export
    timezone: Australia/Melbourne   # timestamps with an offset or Z are turned
                              # into the clinic's local time before the date
                              # is taken; naive ones are taken as local
    delimiter: ";"            # CSV field separator; sniffed when absent
    decimal: ","              # decimal mark "." or ","; the default "auto"
                              # reads both 7.5 and 7,5 as 7.5
    encoding: cp1252          # tried first; UTF-8 (with or without BOM) when absent
    date_format: "%d/%m/%Y"   # or a list of formats, tried first and in order;
                              # ISO dates (2026-03-09) are always accepted too
    source_timezone: UTC      # the zone of timestamps written without an offset,
                              # when not the clinic's (a spreadsheet dropped the Z)
    tables:
      sessions:
        file: Appointments.csv   # where the rows come from: `file` (+ `sheet`)
                                 # in a folder, `form` (+ `event`) in REDCap,
                                 # `resource` in FHIR, `query` (SQL) in PostgreSQL
        sheet: Visits            # Excel sheet (first visible sheet when absent)
        columns:                 # source column -> canonical column(s)
          id: session_id
          starts_at: [session_date, session_time]   # one source, several targets
        constants:               # canonical column -> one value for every row
          twitch_response: "no"
        compute:                 # canonical column -> ordered rules, first match wins
          status:
            - when: {cancelled_at: set}        # tests on source columns:
              value: cancelled                 #   set, blank, true, false, future,
            - when: {did_not_arrive: true}     #   past, a value, or a list of values
              value: no_show                   #   (all tests of a `when` must hold)
            - when: {patient_arrived: true}
              value: attended
            - when: {starts_at: future}
              value: booked
            - value: unmarked                  # no `when`: otherwise
          # birth_year: {year_of: Date of Birth}          # year of a date column
          # birth_year: {age: Age, at: Date Registered}   # age at a reference date
        values:                  # canonical column -> {source label: value}
          status:
            Did not attend: no_show
        measurements:            # wide columns -> long rows of another table,
          - column: Knee flexion AROM (°)   # one row per non-empty cell; the new row
            table: rom                      # takes patient, episode, session and date
            set: {joint: knee, movement: flexion, mode: active, device: goniometer}
            columns: {Affected side: side}  # other source columns of the same row
          - column: NDI total
            table: proms
            set: {instrument: NDI}
        date_format: "%d.%m.%Y"  # any read option above can be set per table
      episodes:
        derive:                  # courses of care built from the sessions when
          new_course_types: [Initial Consultation]  # the source has none
          type_column: appointment_type_name  # source column of sessions holding the type
          region_column: Body region          # optional: courses per body region
          gap_days: 90           # a gap longer than this starts a new course
          discharge_after_days: 60  # ended (discharged) when no session follows
                                    # within this many days of the last attended
                                    # one and none is booked; else ongoing

Source labels and column names are matched without regard to case or to
surrounding spaces.
"""

from .model import (
    CONDITION_WORDS,
    MEASURED,
    Computed,
    EpisodeRule,
    Mapping,
    Measurement,
    Rule,
    TableMapping,
    check_timezone,
)
from .read import DEFAULT_MAPPING_NAME, TEMPLATE_DIR, default_mapping, mapping_fingerprint, read_mapping, template_names

__all__ = [
    "CONDITION_WORDS",
    "DEFAULT_MAPPING_NAME",
    "MEASURED",
    "TEMPLATE_DIR",
    "Computed",
    "EpisodeRule",
    "Mapping",
    "Measurement",
    "Rule",
    "TableMapping",
    "check_timezone",
    "default_mapping",
    "mapping_fingerprint",
    "read_mapping",
    "template_names",
]
