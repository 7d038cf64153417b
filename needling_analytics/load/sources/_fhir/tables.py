"""One flattener per canonical table: FHIR R4 resources -> rows under canonical column names.

Each function takes the shared :class:`~.context.Context` and returns the
:class:`~.rows.Rows` of its table, values as text written in the resource
(dates and times keep their UTC offset: the loader turns them into the
clinic's local time). A resource without an id is a malformed row; a
resource entered in error is dropped and counted; every other omission
is counted in the table's notes.
"""

from __future__ import annotations

from collections import defaultdict

from . import codes
from .context import VOID, Context, effective, instant, pain_value, text, time_of
from .rows import Rows

PATIENT_COLUMNS = ["patient_id", "birth_year", "sex", "first_name", "last_name", "postcode"]
EPISODE_COLUMNS = ["episode_id", "patient_id", "start_date", "end_date", "body_region", "condition", "discharge_reason"]
SESSION_COLUMNS = ["session_id", "episode_id", "patient_id", "practitioner_id", "session_date", "session_time",
                   "status", "pain_pre", "pain_post"]  # fmt: skip
ROM_COLUMNS = ["patient_id", "episode_id", "measured_on", "joint", "movement", "side", "degrees", "session_id",
               "mode", "device", "rater_id"]  # fmt: skip
PROM_COLUMNS = ["patient_id", "episode_id", "completed_on", "instrument", "score"]
ADVERSE_COLUMNS = ["session_id", "patient_id", "event_type", "severity", "notes"]
ASSESSMENT_COLUMNS = ["patient_id", "episode_id", "assessed_on", "pain", "assessment_id"]
_PRACTITIONER = ("Practitioner", "PractitionerRole")


def _drop_void(rows: Rows, entry) -> bool:
    if entry.resource.get("status") in VOID:
        rows.counts[f"{entry.type} entered in error dropped"] += 1
        return True
    return False


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
        if rows.broken(entry) or _drop_void(rows, entry):
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


def _practitioner(ctx: Context, participants) -> str:
    for participant in participants or []:
        if isinstance(participant, dict):
            ref = participant.get("individual") or participant.get("actor")
            found = ctx.resources.resolve(ref, *_PRACTITIONER)
            if found:
                return found
    return ""


def _period_start(resource: dict) -> str:
    period = resource.get("period") if isinstance(resource.get("period"), dict) else {}
    return text(period.get("start") or resource.get("start"))


def sessions(ctx: Context, types=("Encounter", "Appointment")) -> Rows:
    """Encounter (and Appointment with no Encounter) -> ``sessions``.

    Columns: session_id, episode_id (Encounter.episodeOfCare, else the
    patient's only episode covering the date), patient_id (subject),
    practitioner_id (first participant that is a Practitioner or
    PractitionerRole; blank when none), session_date (period.start as
    written, with its offset), session_time (its HH:MM), status (see
    :data:`~.codes.ENCOUNTER_STATUS`; ``no_show`` when the Encounter's
    Appointment is ``noshow``), pain_pre (the earliest linked LOINC 72514-3
    reading) and pain_post (the latest, when there are two or more; readings
    between them are counted in the notes). Appointments that no Encounter
    refers to become sessions too (status from Appointment.status,
    episode from supportingInformation).
    """
    rows = Rows("sessions", SESSION_COLUMNS)
    kept = {e.id for e in ctx.resources.of_type("Encounter") if e.id and e.resource.get("status") not in VOID}
    pain = _pain_by_encounter(ctx, rows, kept) if "Encounter" in types else {}
    booked = set()
    for entry in ctx.resources.of_type("Encounter") if "Encounter" in types else []:
        booked.update(ctx.resources.resolve(a, "Appointment") for a in entry.resource.get("appointment") or [])
        if rows.broken(entry) or _drop_void(rows, entry):
            continue
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
            rows.counts["Encounters without an EpisodeOfCare: " + ("episode taken from the patient's only episode covering the date" if episode else "episode left blank")] += 1  # fmt: skip
        practitioner = _practitioner(ctx, encounter.get("participant"))
        if not practitioner:
            rows.counts["Encounters without a practitioner (practitioner_id blank)"] += 1
        pain_pre, pain_post = pain.get(entry.id, ("", ""))
        rows.add(
            entry,
            {
                "session_id": entry.id,
                "episode_id": episode,
                "patient_id": patient,
                "practitioner_id": practitioner,
                "session_date": when,
                "session_time": time_of(when),
                "status": codes.APPOINTMENT_STATUS["noshow"] if status == "noshow" else codes.ENCOUNTER_STATUS.get(status, status),
                "pain_pre": pain_pre,
                "pain_post": pain_post,
            },
        )  # fmt: skip
    for entry in ctx.resources.of_type("Appointment") if "Appointment" in types else []:
        if entry.id in booked:
            continue
        if rows.broken(entry) or _drop_void(rows, entry):
            continue
        appointment = entry.resource
        actors = [p.get("actor") for p in appointment.get("participant") or [] if isinstance(p, dict)]
        patient = next((p for a in actors if (p := ctx.resources.resolve(a, "Patient"))), "")
        when = text(appointment.get("start"))
        support = appointment.get("supportingInformation") or []
        episode = next((e for s in support if (e := ctx.resources.resolve(s, "EpisodeOfCare"))), "")
        if not episode:
            episode = ctx.episode_on(patient, when)
            rows.counts["Appointments without an EpisodeOfCare in supportingInformation: " + ("episode taken from the patient's only episode covering the date" if episode else "episode left blank")] += 1  # fmt: skip
        status = text(appointment.get("status"))
        rows.add(
            entry,
            {
                "session_id": entry.id,
                "episode_id": episode,
                "patient_id": patient,
                "practitioner_id": _practitioner(ctx, appointment.get("participant")),
                "session_date": when,
                "session_time": time_of(when),
                "status": codes.APPOINTMENT_STATUS.get(status, status),
            },
        )
    if ctx.void_observations["pain"]:
        rows.counts["pain Observations entered in error or cancelled dropped"] += ctx.void_observations["pain"]
    return rows


def assessments(ctx: Context) -> Rows:
    """Pain Observations (LOINC 72514-3) linked to no encounter -> ``assessments``.

    Columns: patient_id (subject), episode_id (the patient's only episode
    covering the date, else blank), assessed_on (effective, as written),
    pain, assessment_id (Observation.id).
    """
    rows = Rows("assessments", ASSESSMENT_COLUMNS)
    for entry in ctx.observations["pain"]:
        if entry.resource.get("encounter"):
            continue
        if rows.broken(entry):
            continue
        obs = entry.resource
        patient = ctx.resources.resolve(obs.get("subject"), "Patient") or ""
        when = effective(obs)
        _, episode = ctx.episode_of(obs, patient, when, rows.counts)
        rows.add(
            entry,
            {
                "patient_id": patient,
                "episode_id": episode,
                "assessed_on": when,
                "pain": pain_value(obs),
                "assessment_id": entry.id,
            },
        )
    return rows


def rom(ctx: Context) -> Rows:
    """Observations with a valueQuantity (or components) in degrees -> ``rom``.

    Columns: patient_id, episode_id (through the encounter, else by date),
    measured_on (effective, as written), joint (bodySite: SNOMED, else a
    joint named in it), movement and mode (named in the code: ROM has no
    LOINC code, so local codes such as ``knee-flexion-active`` are read by
    their words), side (laterality extension or coding on bodySite; ``none``
    for spinal and jaw readings without one), degrees, session_id
    (encounter), device (method), rater_id (first performer that is a
    Practitioner). One row per reading in degrees, the Observation's own
    value first and then each component's.
    """
    rows = Rows("rom", ROM_COLUMNS)
    for entry in ctx.observations["rom"]:
        if rows.broken(entry):
            continue
        obs = entry.resource
        patient = ctx.resources.resolve(obs.get("subject"), "Patient") or ""
        when = effective(obs)
        session, episode = ctx.episode_of(obs, patient, when, rows.counts)
        sites = obs.get("bodySite")
        site = sites[0] if isinstance(sites, list) and sites else sites  # R4: one bodySite; tolerate a list
        joint = codes.joint(site)
        side = codes.laterality(site) or ("none" if joint in codes.MIDLINE_JOINTS else "")
        if not side:
            rows.counts["readings of a limb joint without laterality (side blank)"] += 1
        readings = [(obs.get("code"), obs.get("valueQuantity"))] + [
            (c.get("code"), c.get("valueQuantity")) for c in obs.get("component") or [] if isinstance(c, dict)
        ]
        for code, quantity in readings:
            if not isinstance(quantity, dict) or "value" not in quantity:
                continue
            rows.add(
                entry,
                {
                    "patient_id": patient,
                    "episode_id": episode,
                    "measured_on": when,
                    "joint": joint,
                    "movement": codes.movement(code) or codes.movement(obs.get("code")) or codes.label(code),
                    "side": side,
                    "degrees": text(quantity.get("value")),
                    "session_id": session,
                    "mode": codes.mode(code, obs.get("code"), obs.get("method")),
                    "device": codes.device(obs.get("method")),
                    "rater_id": _practitioner(ctx, [{"actor": p} for p in obs.get("performer") or []]),
                },
            )
    if ctx.void_observations["rom"]:
        rows.counts["range-of-motion Observations entered in error or cancelled dropped"] += ctx.void_observations[
            "rom"
        ]
    return rows


def _total(items) -> str | None:
    """The answer of the first item whose linkId or text names a total or score, depth first."""
    for item in items or []:
        if not isinstance(item, dict):
            continue
        name = codes.key(f"{item.get('linkId', '')} {item.get('text', '')}")
        if "total" in name.split("_") or "score" in name.split("_"):
            for answer in item.get("answer") or []:
                for k in ("valueDecimal", "valueInteger", "valueString"):
                    if isinstance(answer, dict) and k in answer:
                        return text(answer[k])
                if isinstance(answer, dict) and isinstance(answer.get("valueQuantity"), dict):
                    return text(answer["valueQuantity"].get("value"))
        nested = _total(item.get("item")) or _total(
            [i for a in item.get("answer") or [] if isinstance(a, dict) for i in a.get("item") or []]
        )
        if nested is not None:
            return nested
    return None


def proms(ctx: Context) -> Rows:
    """QuestionnaireResponse with a scored total -> ``proms``.

    Columns: patient_id (subject), episode_id (through the encounter, else
    by date), completed_on (authored, as written), instrument (the name at
    the end of the questionnaire URL: NDI, ODI, PSFS, LEFS, QuickDASH or as
    written), score (the first item whose linkId or text holds the word
    ``total`` or ``score``). Responses not completed or amended, and those
    without a total, are counted and left out.
    """
    rows = Rows("proms", PROM_COLUMNS)
    for entry in ctx.resources.of_type("QuestionnaireResponse"):
        if rows.broken(entry) or _drop_void(rows, entry):
            continue
        response = entry.resource
        if response.get("status") not in ("completed", "amended"):
            rows.counts[f"QuestionnaireResponses with status {response.get('status')!r} left out"] += 1
            continue
        score = _total(response.get("item"))
        if score is None:
            rows.counts["QuestionnaireResponses without a scored total left out"] += 1
            continue
        patient = ctx.resources.resolve(response.get("subject") or response.get("source"), "Patient") or ""
        when = text(response.get("authored"))
        _, episode = ctx.episode_of(response, patient, when, rows.counts)
        rows.add(
            entry,
            {
                "patient_id": patient,
                "episode_id": episode,
                "completed_on": when,
                "instrument": codes.instrument(text(response.get("questionnaire"))),
                "score": score,
            },
        )
    return rows


def _severity(event: dict) -> str:
    if codes.has_code(
        event.get("seriousness"), "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness", "serious"
    ):
        return "serious"
    found = [c.get("code") for c in codes.codings(event.get("severity"))]
    return next((codes.SEVERITY[c] for c in found if c in codes.SEVERITY), codes.label(event.get("severity")))


def adverse_events(ctx: Context) -> Rows:
    """AdverseEvent (actual, not potential) -> ``adverse_events``.

    Columns: session_id (encounter, else a suspectEntity that is an
    Encounter or a Procedure of one), patient_id (subject), event_type
    (named in event, else its label), severity (seriousness ``serious`` ->
    serious, else severity mild -> mild, moderate or severe -> significant),
    notes (description, or an R5-style note). R4 has no resolution date, so
    resolved_days is not read.
    """
    rows = Rows("adverse_events", ADVERSE_COLUMNS)
    for entry in ctx.resources.of_type("AdverseEvent"):
        if rows.broken(entry) or _drop_void(rows, entry):
            continue
        event = entry.resource
        if event.get("actuality") == "potential":
            rows.counts["potential AdverseEvents (near misses) left out"] += 1
            continue
        session = ctx.resources.resolve(event.get("encounter"), "Encounter")
        for suspect in event.get("suspectEntity") or [] if not session else []:
            ref = suspect.get("instance") if isinstance(suspect, dict) else None
            procedure = ctx.resources.get(ref, "Procedure") or {}
            session = ctx.resources.resolve(ref, "Encounter") or ctx.resources.resolve(
                procedure.get("encounter"), "Encounter"
            )
            if session:
                break
        notes = [text(n.get("text")) for n in event.get("note") or [] if isinstance(n, dict)]
        rows.add(
            entry,
            {
                "session_id": session or "",
                "patient_id": ctx.resources.resolve(event.get("subject"), "Patient") or "",
                "event_type": codes.event_type(event.get("event")),
                "severity": _severity(event),
                "notes": "; ".join(filter(None, [text(event.get("description")), *notes])),
            },
        )  # fmt: skip
    return rows


def generic(ctx: Context, name: str, kind: str) -> Rows:
    """Resources of ``kind`` flattened to dotted paths (``subject.reference``, ``name.0.family``).

    For a table whose mapping names a ``resource`` this reader has no
    flattener for: the mapping's ``columns`` then rename the paths.
    """
    rows = Rows(name, [])
    for entry in ctx.resources.of_type(kind):
        if entry.problem:
            rows.add(entry, {"id": ""}, entry.problem)
            continue
        flat = {}
        _flatten(entry.resource, "", flat)
        rows.add(entry, flat)
    return rows


def _flatten(value, prefix: str, out: dict) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}{k}.", out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}{i}.", out)
    else:
        out[prefix[:-1]] = text(value)
