"""Loading a clinic: files and a mapping in, typed tables and a quality report out.

The stage reads each table's file (:mod:`.read`), types its values
(:mod:`.coerce`), applies the validation rules (:mod:`.rules`), and keeps
every row that passes; the rest are quarantined with their reasons
(:mod:`.quality`).
"""

from .clinic import Clinic, load_clinic, output_schema
from .mapping import Mapping, read_mapping
from .quality import QualityReport
from .rules import RULES

__all__ = ["RULES", "Clinic", "Mapping", "QualityReport", "load_clinic", "output_schema", "read_mapping"]
