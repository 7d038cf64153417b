"""What the table flatteners share: values as text, times, and links worked out once per source.

Observations are sorted once into pain readings (LOINC 72514-3) and
range-of-motion readings (a ``valueQuantity`` in degrees), the rest are
counted. A pain reading linked to an Encounter belongs to that session;
one without an encounter is an assessment.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pandas as pd

from .. import fhir_codes as codes
from .resources import Entry, Resources
from .rows import VOID

_TIME = re.compile(r"T(\d{2}):(\d{2})")
_DEGREES = ("deg", "°", "degree", "degrees")


def text(value) -> str:
    """A JSON value as the text a CSV export would hold (blank for null)."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def time_of(when: str) -> str:
    """The whole dateTime when it has a time of day (blank for a date alone).

    The loader takes the time of day from it in the clinic's time zone, as
    it takes the date: cutting ``HH:MM`` here would keep the time as
    written in another offset.
    """
    return when if _TIME.search(when) else ""


def effective(resource: dict) -> str:
    """When an Observation applies, as written: effectiveDateTime, effectivePeriod.start, effectiveInstant or issued."""
    period = resource.get("effectivePeriod") if isinstance(resource.get("effectivePeriod"), dict) else {}
    for value in (resource.get("effectiveDateTime"), period.get("start"), resource.get("effectiveInstant")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return text(resource.get("issued"))


def instant(when: str) -> pd.Timestamp:
    """A sortable UTC time for ``when`` (naive times taken as UTC; unreadable ones last)."""
    try:
        stamp = pd.Timestamp(when)
    except (ValueError, TypeError):
        return pd.Timestamp.max.tz_localize("UTC")
    if stamp is pd.NaT:
        return pd.Timestamp.max.tz_localize("UTC")
    return stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")


def pain_value(resource: dict) -> str:
    """The 0-10 score of a pain Observation as written: valueInteger, valueQuantity, a LOINC answer code or valueString."""
    if "valueInteger" in resource:
        return text(resource["valueInteger"])
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict) and "value" in quantity:
        return text(quantity["value"])
    for coding in codes.codings(resource.get("valueCodeableConcept")):
        if coding.get("code") in codes.PAIN_ANSWERS:
            return str(codes.PAIN_ANSWERS[coding["code"]])
    return text(resource.get("valueString"))


def degrees(quantity) -> bool:
    """True when a Quantity is in degrees (UCUM ``deg``, or a unit written as degrees)."""
    if not isinstance(quantity, dict) or "value" not in quantity:
        return False
    unit = str(quantity.get("code") or quantity.get("unit") or "").strip().casefold()
    return unit in _DEGREES


@dataclass
class Context:
    """The resources of a source and the links between them, worked out once."""

    resources: Resources
    #: Observation entries by kind: ``pain`` (LOINC 72514-3), ``rom`` (degrees), ``other``.
    observations: dict[str, list[Entry]] = field(default_factory=lambda: defaultdict(list))
    #: Observations dropped as entered-in-error or cancelled, by kind.
    void_observations: Counter = field(default_factory=Counter)
    #: Codes of the Observations that are neither pain nor range of motion.
    other_codes: Counter = field(default_factory=Counter)
    #: patient id -> [(episode id, start, end)] of the EpisodeOfCare resources kept.
    episodes: dict[str, list[tuple[str, str, str]]] = field(default_factory=lambda: defaultdict(list))
    #: Encounter id -> its episode id (as read for the sessions table).
    encounter_episode: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entry in self.resources.of_type("Observation"):
            obs = entry.resource
            if codes.has_code(obs.get("code"), codes.LOINC, codes.PAIN_CODE):
                kind = "pain"
            elif degrees(obs.get("valueQuantity")) or any(
                isinstance(c, dict) and degrees(c.get("valueQuantity")) for c in obs.get("component") or []
            ):
                kind = "rom"
            elif entry.problem:
                kind = "pain"  # a broken line of Observation.ndjson: reported with the pain readings
            else:
                kind = "other"
                self.other_codes[codes.label(obs.get("code")) or "(no code)"] += 1
            if obs.get("status") in (*VOID, "cancelled"):
                self.void_observations[kind] += 1
                continue
            self.observations[kind].append(entry)
        for entry in self.resources.of_type("EpisodeOfCare"):
            episode = entry.resource
            if entry.id and episode.get("status") not in VOID:
                patient = self.resources.resolve(episode.get("patient"), "Patient")
                period = episode.get("period") if isinstance(episode.get("period"), dict) else {}
                if patient:
                    self.episodes[patient].append((entry.id, text(period.get("start")), text(period.get("end"))))
        for entry in self.resources.of_type("Encounter"):
            refs = entry.resource.get("episodeOfCare") or []
            episode = next((e for r in refs if (e := self.resources.resolve(r, "EpisodeOfCare"))), None)
            if entry.id and episode:
                self.encounter_episode[entry.id] = episode

    def practitioner(self, participants) -> str:
        """Id of the first participant (``individual`` or ``actor``) that is a Practitioner or PractitionerRole."""
        for participant in participants or []:
            if isinstance(participant, dict):
                ref = participant.get("individual") or participant.get("actor")
                found = self.resources.resolve(ref, "Practitioner", "PractitionerRole")
                if found:
                    return found
        return ""

    def episode_on(self, patient: str, when: str) -> str:
        """The patient's only EpisodeOfCare whose period covers the date of ``when``, else blank."""
        day = when[:10]
        covering = [
            e for e, start, end in self.episodes.get(patient, []) if start[:10] <= day and (not end or day <= end[:10])
        ]
        return covering[0] if len(covering) == 1 and day else ""

    def episode_of(self, resource: dict, patient: str, when: str, counts: Counter) -> tuple[str, str]:
        """``(session_id, episode_id)`` of a resource: through its encounter, else by date (counted)."""
        session = self.resources.resolve(resource.get("encounter"), "Encounter") or ""
        if session and session in self.encounter_episode:
            return session, self.encounter_episode[session]
        episode = self.episode_on(patient, when)
        counts["episode taken from the patient's only EpisodeOfCare covering the date" if episode else
               "no episode: no encounter with an EpisodeOfCare, and not one EpisodeOfCare covering the date"] += 1  # fmt: skip
        return session, episode
