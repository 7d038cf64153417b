"""Build hook: ship the report notebooks inside the package.

The notebooks are edited in the top-level ``notebooks/`` folder (the one
source). Building a wheel copies its ``*.ipynb`` files to
``needling_analytics/notebooks/`` in the wheel, where the runner finds them
after a plain ``pip install .``; an editable install (``make install``)
reads ``notebooks/`` itself. Everything else is declared in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


class BuildWithNotebooks(build_py):
    """``build_py`` plus a copy of ``notebooks/*.ipynb`` into the built package."""

    def run(self):
        super().run()
        target = Path(self.build_lib) / "needling_analytics" / "notebooks"
        self.mkpath(str(target))
        notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
        if not notebooks:
            raise SystemExit(f"no report notebooks in {NOTEBOOKS}: the package cannot be built without them")
        for notebook in notebooks:
            self.copy_file(str(notebook), str(target / notebook.name))


setup(cmdclass={"build_py": BuildWithNotebooks})
