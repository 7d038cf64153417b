"""A synthetic clinic to demonstrate and test the package.

>>> from needling_analytics.demo import generate_clinic
>>> tables = generate_clinic(n_patients=100, seed=3)
"""

from .generator import DEMO_END, generate_clinic, write_clinic
from .messy import make_messy

__all__ = ["DEMO_END", "generate_clinic", "make_messy", "write_clinic"]
