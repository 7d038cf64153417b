"""Helpers of the FHIR R4 source: reading resources, codes, and one flattener per table."""
