"""Preparing report content: the metrics cache, plain-language text and tables for readers."""

from .cache import PatientData, read_clinic, read_disclosure, read_patient, read_rule, write_cache

__all__ = ["PatientData", "read_clinic", "read_disclosure", "read_patient", "read_rule", "write_cache"]
