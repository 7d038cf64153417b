"""Codes the FHIR reader matches, and small helpers to read FHIR datatypes.

Codes are matched by system and code, never by display text (one public
codebase labels LOINC 72514-3 "Wound bed granulation tissue percentage").
Where a value has no standard code (range-of-motion movements, devices,
questionnaire names) the words of the codes and texts are matched against
the data model's own vocabulary; what is not recognised is passed on as
written so that the mapping's ``values`` can name it, or validation
reports it.
"""

from __future__ import annotations

import re

from ...schema import EVENT_TYPES, INSTRUMENTS, JOINTS, MOVEMENTS, ROM_DEVICES

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
#: LOINC "Pain severity - 0-10 verbal numeric rating [Score] - Reported".
PAIN_CODE = "72514-3"
#: LOINC answer codes of the 0-10 pain scale (answer list of 72514-3).
PAIN_ANSWERS = {
    "LA6111-4": 0, "LA6112-2": 1, "LA6113-0": 2, "LA6114-8": 3, "LA6115-5": 4, "LA10137-0": 5,
    "LA10138-8": 6, "LA10139-6": 7, "LA10140-4": 8, "LA10141-2": 9, "LA13942-0": 10,
}  # fmt: skip
LATERALITY_URL = "http://hl7.org/fhir/StructureDefinition/observation-structureLaterality"
#: SNOMED laterality (value set structure-laterality-vs) -> `side`.
LATERALITY = {"7771000": "left", "24028007": "right", "51440002": "both", "399488007": "none"}
#: SNOMED body structures -> `joint`.
JOINT_CODES = {
    "122494005": "cervical_spine", "122495006": "thoracic_spine", "122496007": "lumbar_spine",
    "91774008": "shoulder", "16953009": "elbow", "14975008": "forearm", "74670003": "wrist",
    "24136001": "hip", "49076000": "knee", "70258002": "ankle", "53620006": "jaw",
}  # fmt: skip
#: SNOMED body structures -> episode `body_region`.
REGION_CODES = {
    "122494005": "neck", "122495006": "upper_back", "122496007": "low_back", "91774008": "shoulder",
    "16953009": "elbow", "74670003": "wrist_hand", "24136001": "hip", "49076000": "knee",
    "70258002": "ankle_foot", "53620006": "jaw",
}  # fmt: skip
#: Joints measured in the midline: no laterality means side `none`.
MIDLINE_JOINTS = ("cervical_spine", "thoracic_spine", "lumbar_spine", "jaw")
#: Encounter.status (R4) -> session `status`; entered-in-error is dropped.
ENCOUNTER_STATUS = {
    "planned": "booked", "arrived": "attended", "triaged": "attended", "in-progress": "attended",
    "onleave": "attended", "finished": "attended", "cancelled": "cancelled", "unknown": "unmarked",
}  # fmt: skip
#: Appointment.status (R4) -> session `status`; entered-in-error is dropped.
APPOINTMENT_STATUS = {
    "proposed": "booked", "pending": "booked", "booked": "booked", "waitlist": "booked",
    "arrived": "attended", "checked-in": "attended", "fulfilled": "attended",
    "cancelled": "cancelled", "noshow": "no_show",
}  # fmt: skip
GENDER = {"male": "M", "female": "F", "other": "X", "unknown": "U"}
#: AdverseEvent.severity (R4, adverse-event-severity) -> `severity`.
SEVERITY = {"mild": "mild", "moderate": "significant", "severe": "significant"}
#: Questionnaire names -> `instrument` (the data model's own names are matched too).
INSTRUMENT_ALIASES = {
    "neck_disability_index": "NDI", "oswestry": "ODI", "oswestry_disability_index": "ODI",
    "patient_specific_functional_scale": "PSFS", "lower_extremity_functional_scale": "LEFS",
    "quick_dash": "QuickDASH", "qdash": "QuickDASH",
}  # fmt: skip
_MODE_WORDS = {"active": "active", "arom": "active", "passive": "passive", "prom": "passive"}


def key(text: str) -> str:
    """``text`` folded for matching: lower case, words joined by ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", text.casefold()).strip("_")


def codings(concept) -> list[dict]:
    """The codings of a CodeableConcept (a bare Coding counts as one)."""
    if not isinstance(concept, dict):
        return []
    if "coding" not in concept and "code" in concept:
        return [concept]
    return [c for c in concept.get("coding") or [] if isinstance(c, dict)]


def has_code(concept, system: str, code: str) -> bool:
    """True when ``concept`` holds a coding of exactly ``system`` and ``code``."""
    return any(str(c.get("system", "")).rstrip("/") == system and c.get("code") == code for c in codings(concept))


def words(concept) -> list[str]:
    """Every code, display and text of a CodeableConcept, as written (for vocabulary matching)."""
    if not isinstance(concept, dict):
        return []
    out = [str(v) for c in codings(concept) for v in (c.get("code"), c.get("display")) if v]
    return out + ([str(concept["text"])] if concept.get("text") else [])


def label(concept) -> str:
    """What to show of a concept not recognised: its text, else the first display or code."""
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for c in codings(concept):
        if c.get("display") or c.get("code"):
            return str(c.get("display") or c.get("code"))
    return ""


def _first_word(concepts, vocabulary) -> str | None:
    """The first name of ``vocabulary`` found among the words of ``concepts``, longest names first."""
    names = sorted(vocabulary, key=len, reverse=True)
    for concept in concepts:
        for text in words(concept):
            folded = f"_{key(text)}_"
            for name in names:
                if f"_{key(name)}_" in folded:
                    return name
    return None


def joint(site) -> str:
    """`joint` of an Observation.bodySite: SNOMED code, else a joint named in its words, else its label."""
    for c in codings(site):
        if c.get("code") in JOINT_CODES:
            return JOINT_CODES[c["code"]]
    return _first_word([site], [j for j in JOINTS if j != "other"]) or label(site)


def region(site) -> str:
    """Episode `body_region` of a Condition.bodySite (SNOMED code, else its label)."""
    for c in codings(site):
        if c.get("code") in REGION_CODES:
            return REGION_CODES[c["code"]]
    return label(site)


def laterality(site) -> str | None:
    """`side` from the laterality extension on bodySite, else a laterality coding in bodySite."""
    if not isinstance(site, dict):
        return None
    for ext in site.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == LATERALITY_URL:
            for c in codings(ext.get("valueCodeableConcept")):
                if c.get("code") in LATERALITY:
                    return LATERALITY[c["code"]]
            return label(ext.get("valueCodeableConcept")) or None
    for c in codings(site):
        if c.get("code") in LATERALITY:
            return LATERALITY[c["code"]]
    return None


def movement(code) -> str:
    """`movement` named in an Observation.code (local codes: ``knee-flexion``), else blank."""
    return _first_word([code], [m for m in MOVEMENTS if m != "other"]) or ""


def mode(*concepts) -> str:
    """`mode` (active/passive) named in the code or method, else blank."""
    for concept in concepts:
        for text in words(concept):
            for word in key(text).split("_"):
                if word in _MODE_WORDS:
                    return _MODE_WORDS[word]
    return ""


def device(method) -> str:
    """`device` named in Observation.method, else its label (blank when absent)."""
    return _first_word([method], ROM_DEVICES) or label(method)


def event_type(concept) -> str:
    """`event_type` named in AdverseEvent.event, else its label."""
    return _first_word([concept], [e for e in EVENT_TYPES if e != "other"]) or label(concept)


def instrument(questionnaire: str) -> str:
    """`instrument` of a QuestionnaireResponse.questionnaire canonical URL (``.../Questionnaire/NDI|1.0``)."""
    name = questionnaire.split("|")[0].rstrip("/").rsplit("/", 1)[-1]
    folded = key(name)
    for known in INSTRUMENTS:
        if key(known) == folded:
            return known
    return INSTRUMENT_ALIASES.get(folded, name)
