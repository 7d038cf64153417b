"""Loading a clinic: files and a mapping in, typed tables and a quality report out.

The stage reads each table from its source (:mod:`.sources`, :mod:`.read`),
renames and computes it as the mapping says (:mod:`.mapping`,
:mod:`.transform`, :mod:`.episodes`), types its values (:mod:`.coerce`),
applies the rules of one table (:mod:`.rules`) and across tables
(:mod:`.links`) table by table (:mod:`.validation`), and keeps every row
that passes; the rest are quarantined with their reasons (:mod:`.quality`).
:func:`load_clinic` (:mod:`.clinic`) runs it all.
"""

from .clinic import Clinic, load_clinic, output_schema
from .mapping import Mapping, read_mapping
from .quality import QualityReport
from .rules import RULES

__all__ = ["RULES", "Clinic", "Mapping", "QualityReport", "load_clinic", "output_schema", "read_mapping"]
