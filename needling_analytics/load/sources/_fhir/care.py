"""Flatteners of the tables of care: patients, episodes and sessions (with their pain).

Each function takes the shared :class:`~.context.Context` and returns the
:class:`~.rows.Rows` of its table, values as text written in the resource
(dates and times keep their UTC offset: the loader turns them into the
clinic's local time). A resource without an id is a malformed row; a
resource entered in error is dropped and counted; every other omission
is counted in the table's notes.
"""

from __future__ import annotations

from collections import defaultdict

from .. import fhir_codes as codes
from .context import Context, effective, instant, pain_value, text, time_of
from .rows import VOID, Rows

PATIENT_COLUMNS = ["patient_id", "birth_year", "sex", "first_name", "last_name", "postcode"]
EPISODE_COLUMNS = ["episode_id", "patient_id", "start_date", "end_date", "body_region", "condition", "discharge_reason"]
SESSION_COLUMNS = ["session_id", "episode_id", "patient_id", "practitioner_id", "session_date", "session_time",
                   "status", "pain_pre", "pain_post"]  # fmt: skip


def patients(ctx: Context) -> Rows:
    """Patient -> ``patients``.

    Columns: patient_id (Patient.id), birth_year (year of birthDate), sex
    (gender male/female/other/unknown -> M/F/X/U), first_name, last_name
    (the official or first name), postcode (first home or any address).
    """
    rows = Rows("patients", PATIENT_COLUMNS)
    for entry in ctx.resources.of_type("Patient"):
        if rows.broken(entry):
            continue
        patient = entry.resource
        names = [n for n in patient.get("name") or [] if isinstance(n, dict)]
        name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
        addresses = [a for a in patient.get("address") or [] if isinstance(a, dict)]
        address = next((a for a in addresses if a.get("use") == "home"), addresses[0] if addresses else {})
        born = text(patient.get("birthDate"))
        gender = text(patient.get("gender"))
        rows.add(
            entry,
            {
                "patient_id": entry.id,
                "birth_year": born[:4] if born[:4].isdigit() else born,
                "sex": codes.GENDER.get(gender, gender),
                "first_name": text((name.get("given") or [None])[0]),
                "last_name": text(name.get("family")),
                "postcode": text(address.get("postalCode")),
            },
        )
    return rows


def _discharge_reason(episode: dict) -> str:
    for ext in episode.get("extension") or []:
        if isinstance(ext, dict) and str(ext.get("url", "")).rstrip("/").endswith(
            ("discharge-reason", "dischargeReason")
        ):
            concept = ext.get("valueCodeableConcept")
            found = codes.codings(concept)
            return text(ext.get("valueCode") or ext.get("valueString")) or (
                text(found[0].get("code")) if found else codes.label(concept)
            )
    return ""


def episodes(ctx: Context) -> Rows:
    """EpisodeOfCare -> ``episodes``.

    Columns: episode_id, patient_id, start_date and end_date (period, as
    written), body_region and condition (bodySite and code of the first
    diagnosis' Condition, when the source holds it), discharge_reason (an
    extension whose URL ends in ``discharge-reason``: R4 has no element for it).
    """
    rows = Rows("episodes", EPISODE_COLUMNS)
    for entry in ctx.resources.of_type("EpisodeOfCare"):
        if rows.broken(entry) or rows.void(entry):
            continue
        episode = entry.resource
        period = episode.get("period") if isinstance(episode.get("period"), dict) else {}
        diagnoses = sorted(
            (d for d in episode.get("diagnosis") or [] if isinstance(d, dict)), key=lambda d: d.get("rank", 1e9)
        )
        condition = next((c for d in diagnoses if (c := ctx.resources.get(d.get("condition"), "Condition"))), {})
        if diagnoses and not condition:
            rows.counts["diagnoses whose Condition is not in the source (body_region and condition blank)"] += 1
        sites = condition.get("bodySite") or []
        rows.add(
            entry,
            {
                "episode_id": entry.id,
                "patient_id": ctx.resources.resolve(episode.get("patient"), "Patient") or "",
                "start_date": text(period.get("start")),
                "end_date": text(period.get("end")),
                "body_region": codes.region(sites[0]) if sites else "",
                "condition": codes.label(condition.get("code")),
                "discharge_reason": _discharge_reason(episode),
            },
        )
    return rows


_PRE, _POST = {"pre", "before", "prior"}, {"post", "after"}


def _moment(obs: dict) -> str:
    """``pre`` or ``post`` when the Observation's code says so (a local coding or text), else blank.

    The LOINC coding itself is not read: its display is not to be trusted.
    """
    concept = obs.get("code") if isinstance(obs.get("code"), dict) else {}
    local = {**concept, "coding": [c for c in codes.codings(concept) if c.get("code") != codes.PAIN_CODE]}
    found = {w for text in codes.words(local) for w in codes.key(text).split("_")}
    return "pre" if found & _PRE and not found & _POST else "post" if found & _POST and not found & _PRE else ""


def _pain_by_encounter(ctx: Context, rows: Rows, encounters: set[str]) -> dict[str, tuple[str, str]]:
    """``(pain_pre, pain_post)`` of each encounter from its pain readings.

    A reading whose code says before or after needling goes there; the
    others are taken in time order (ties in the order read): the earliest is
    pain_pre, the latest pain_post. Readings left over are counted.
    """
    found = defaultdict(list)
    for entry in ctx.observations["pain"]:
        ref = entry.resource.get("encounter")
        if entry.problem or not ref:
            continue
        encounter = ctx.resources.resolve(ref, "Encounter")
        value = pain_value(entry.resource)
        if encounter not in encounters:
            rows.counts["pain Observations linked to an encounter that is not in the source (or was dropped)"] += 1
        elif not value:
            rows.counts["pain Observations without a value (dataAbsentReason)"] += 1
        else:
            found[encounter].append(
                (instant(effective(entry.resource)), entry.position, _moment(entry.resource), value)
            )
    out = {}
    for encounter, readings in found.items():
        readings.sort(key=lambda r: r[:2])
        pre = [v for *_, m, v in readings if m == "pre"]
        post = [v for *_, m, v in readings if m == "post"]
        rest = [v for *_, m, v in readings if not m]
        first = pre[0] if pre else rest.pop(0) if rest else ""
        last = post[-1] if post else rest.pop() if rest else ""
        left = max(len(pre) - 1, 0) + max(len(post) - 1, 0) + len(rest)
        if left:
            rows.counts["pain readings of an encounter beyond its first (pain_pre) and last (pain_post) not kept"] += (
                left
            )
        out[encounter] = (first, last)
    return out


def _period_start(resource: dict) -> str:
    period = resource.get("period") if isinstance(resource.get("period"), dict) else {}
    return text(period.get("start") or resource.get("start"))


def _encounter_row(ctx: Context, rows: Rows, entry, pain: dict) -> dict:
    encounter = entry.resource
    status = text(encounter.get("status"))
    appointments = [ctx.resources.get(a, "Appointment") or {} for a in encounter.get("appointment") or []]
    if any(a.get("status") == "noshow" for a in appointments) and status in ("cancelled", "planned", "unknown"):
        status = "noshow"
    patient = ctx.resources.resolve(encounter.get("subject"), "Patient") or ""
    when = _period_start(encounter)
    episode = ctx.encounter_episode.get(entry.id, "")
    if len(encounter.get("episodeOfCare") or []) > 1:
        rows.counts["Encounters with several EpisodeOfCare (the first was taken)"] += 1
    if not episode:
        episode = ctx.episode_on(patient, when)
        rows.counts["Encounters without an EpisodeOfCare: " + _by_date(episode)] += 1
    practitioner = ctx.practitioner(encounter.get("participant"))
    if not practitioner:
        rows.counts["Encounters without a practitioner (practitioner_id blank)"] += 1
    pain_pre, pain_post = pain.get(entry.id, ("", ""))
    return {
        "session_id": entry.id,
        "episode_id": episode,
        "patient_id": patient,
        "practitioner_id": practitioner,
        "session_date": when,
        "session_time": time_of(when),
        "status": codes.APPOINTMENT_STATUS.get(status) if status == "noshow" else codes.ENCOUNTER_STATUS.get(status, status),
        "pain_pre": pain_pre,
        "pain_post": pain_post,
    }  # fmt: skip


def _appointment_row(ctx: Context, rows: Rows, entry) -> dict:
    appointment = entry.resource
    actors = [p.get("actor") for p in appointment.get("participant") or [] if isinstance(p, dict)]
    patient = next((p for a in actors if (p := ctx.resources.resolve(a, "Patient"))), "")
    when = text(appointment.get("start"))
    support = appointment.get("supportingInformation") or []
    episode = next((e for s in support if (e := ctx.resources.resolve(s, "EpisodeOfCare"))), "")
    if not episode:
        episode = ctx.episode_on(patient, when)
        rows.counts["Appointments without an EpisodeOfCare in supportingInformation: " + _by_date(episode)] += 1
    status = text(appointment.get("status"))
    return {
        "session_id": entry.id,
        "episode_id": episode,
        "patient_id": patient,
        "practitioner_id": ctx.practitioner(appointment.get("participant")),
        "session_date": when,
        "session_time": time_of(when),
        "status": codes.APPOINTMENT_STATUS.get(status, status),
    }


def _by_date(episode: str) -> str:
    return "episode taken from the patient's only episode covering the date" if episode else "episode left blank"


def sessions(ctx: Context, types=("Encounter", "Appointment")) -> Rows:
    """Encounter (and Appointment with no Encounter) -> ``sessions``.

    Columns: session_id, episode_id (Encounter.episodeOfCare, else the
    patient's only episode covering the date), patient_id (subject),
    practitioner_id (first participant that is a Practitioner or
    PractitionerRole; blank when none), session_date (period.start as
    written, with its offset), session_time (the same when it has a time of day), status (see
    :data:`~.codes.ENCOUNTER_STATUS`; ``no_show`` when the Encounter's
    Appointment is ``noshow``), pain_pre and pain_post (the linked LOINC
    72514-3 readings, see :func:`_pain_by_encounter`). Appointments that no
    Encounter refers to become sessions too (status from
    :data:`~.codes.APPOINTMENT_STATUS`, episode from supportingInformation).
    ``types`` limits the resources read (a mapping's ``resource``).
    """
    rows = Rows("sessions", SESSION_COLUMNS)
    encounters = ctx.resources.of_type("Encounter") if "Encounter" in types else []
    kept = {e.id for e in encounters if e.id and e.resource.get("status") not in VOID}
    pain = _pain_by_encounter(ctx, rows, kept) if encounters else {}
    referred = set()
    for entry in encounters:
        referred.update(ctx.resources.resolve(a, "Appointment") for a in entry.resource.get("appointment") or [])
        if not (rows.broken(entry) or rows.void(entry)):
            rows.add(entry, _encounter_row(ctx, rows, entry, pain))
    for entry in ctx.resources.of_type("Appointment") if "Appointment" in types else []:
        if entry.id not in referred and not (rows.broken(entry) or rows.void(entry)):
            rows.add(entry, _appointment_row(ctx, rows, entry))
    if ctx.void_observations["pain"]:
        rows.counts["pain Observations entered in error or cancelled dropped"] += ctx.void_observations["pain"]
    return rows
