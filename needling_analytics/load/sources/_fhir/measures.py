"""Flatteners of the measurement tables: assessments, rom, proms, adverse_events, and any resource.

Same rules as :mod:`.care`: values as text written in the resource,
dates with their offset, every omission counted in the table's notes.
"""

from __future__ import annotations

from .. import fhir_codes as codes
from .context import Context, effective, pain_value, text
from .rows import Rows

ROM_COLUMNS = ["patient_id", "episode_id", "measured_on", "joint", "movement", "side", "degrees", "session_id",
               "mode", "device", "rater_id"]  # fmt: skip
PROM_COLUMNS = ["patient_id", "episode_id", "completed_on", "instrument", "score"]
ADVERSE_COLUMNS = ["session_id", "patient_id", "event_type", "severity", "notes"]
ASSESSMENT_COLUMNS = ["patient_id", "episode_id", "assessed_on", "pain", "assessment_id"]


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
        if rows.broken(entry, needs_id=False):
            continue
        obs = entry.resource
        if not pain_value(obs):
            rows.counts["pain Observations without a value (dataAbsentReason) left out"] += 1
            continue
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
        if rows.broken(entry, needs_id=False):
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
        readings = [
            (code, quantity) for code, quantity in readings if isinstance(quantity, dict) and "value" in quantity
        ]
        if not readings:
            rows.counts["range-of-motion Observations without a value in degrees left out"] += 1
        for code, quantity in readings:
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
                    "rater_id": ctx.practitioner([{"actor": p} for p in obs.get("performer") or []]),
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
        if rows.broken(entry, needs_id=False) or rows.void(entry):
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
        if rows.broken(entry, needs_id=False) or rows.void(entry):
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
