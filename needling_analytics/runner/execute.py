"""Running one report notebook: checked parameters, our kernel, time limits, HTML out.

Papermill's own pitfalls are handled here: parameters are checked against
the notebook's declared ``parameters`` cell before anything runs (an
unknown parameter is an error, not a warning), the kernel is the
registered ``needling-analytics`` kernel or else the running Python (see
:mod:`.kernel`), a kernel that does not start or a
cell that hangs fails with a clear message, and outputs are written to a
temporary name and renamed, so an interrupted run leaves no half-written
report.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

from ..errors import NeedlingAnalyticsError
from .kernel import KERNEL
from .pool import KERNEL_ARGUMENTS, PrivateKernelManager

#: The notebooks shipped in the package: a wheel's copy of ``notebooks/`` (see setup.py).
PACKAGED_NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
#: The repository's ``notebooks/``, the one source people edit; an editable install reads it directly.
REPOSITORY_NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
#: Where the report notebooks live, unless the environment variable ``NEEDLING_NOTEBOOKS`` names another folder.
NOTEBOOK_DIR = PACKAGED_NOTEBOOKS if PACKAGED_NOTEBOOKS.is_dir() else REPOSITORY_NOTEBOOKS
NOTEBOOKS = {"patient": "patient_report.ipynb", "clinic": "clinic_report.ipynb", "research": "treatment_response.ipynb"}


class ReportError(NeedlingAnalyticsError):
    """A report could not be made. ``reason`` is one sentence for the index page."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(reason + (f"\n{detail}" if detail else ""))


class ParameterError(ReportError):
    """Parameters do not match the notebook's declared ones."""


def notebook_path(kind: str) -> Path:
    """The notebook of a report kind (``patient``, ``clinic``, ``research``)."""
    if kind not in NOTEBOOKS:
        raise ValueError(f"`kind` must be one of {sorted(NOTEBOOKS)}, got {kind!r}")
    path = Path(os.environ.get("NEEDLING_NOTEBOOKS", NOTEBOOK_DIR)) / NOTEBOOKS[kind]
    if not path.is_file():
        raise ReportError(
            f"the {kind} report notebook is missing ({path}): reinstall needling-analytics "
            "(installing copies the notebooks into it) or set NEEDLING_NOTEBOOKS to a folder holding them"
        )
    return path


def declared_parameters(notebook: Path) -> dict[str, dict]:
    """The parameters a notebook declares in its cell tagged ``parameters``."""
    return papermill.inspect_notebook(str(notebook))


def check_parameters(notebook: Path, parameters: dict, *, required: tuple[str, ...] = ()) -> None:
    """Refuse unknown parameters and missing required ones before anything runs.

    Raises
    ------
    ParameterError
        Naming the offending parameters and the ones the notebook accepts.
    """
    declared = declared_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    missing = sorted(set(required) - set(parameters))
    if unknown or missing:
        problems = []
        if unknown:
            problems.append(f"unknown parameter(s) {unknown}")
        if missing:
            problems.append(f"missing parameter(s) {missing}")
        raise ParameterError(f"{notebook.name}: {' and '.join(problems)}; it accepts {sorted(declared)}")


class _DropStderr(Preprocessor):
    """Remove warnings and other stderr output: they belong in the log, not the report."""

    def preprocess_cell(self, cell, resources, index):
        if cell.get("cell_type") == "code":
            cell["outputs"] = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
        return cell, resources


@functools.cache
def _exporter() -> HTMLExporter:
    """One HTML exporter per process: loading its templates costs more than a report's export."""
    exporter = HTMLExporter(
        template_name="needling",  # JupyterLab's page without scripts from a CDN: see html/needling/
        extra_template_basedirs=[str(Path(__file__).parent / "html")],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={"parameters", "injected-parameters", "remove"}, enabled=True),
        enabled=True,
    )
    exporter.register_preprocessor(_DropStderr(), enabled=True)
    return exporter


def render_html(notebook: nbformat.NotebookNode, *, title: str) -> str:
    """A self-contained HTML page: outputs and text only, no code, prompts or parameters."""
    notebook = nbformat.from_dict(notebook)
    notebook.metadata["title"] = title
    body, _ = _exporter().from_notebook_node(notebook, resources={"metadata": {"name": title}})
    return body


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class ReportResult:
    """What happened to one report."""

    name: str
    status: str  # "ok", "failed", "skipped"
    seconds: float
    html: str = ""
    notebook: str = ""
    reason: str = ""
    error: str = ""


def _run_warm(kernel, notebook: Path, parameters: dict, timeout: int) -> nbformat.NotebookNode:
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    try:
        return kernel.run(nbformat.read(notebook, as_version=4), parameters, timeout=timeout)
    except CellExecutionError as exc:
        first = str(exc.evalue).splitlines()[0] if exc.evalue else ""
        raise ReportError(f"a step of the report failed: {exc.ename}: {first}".strip(), str(exc)) from None
    except CellTimeoutError as exc:
        raise ReportError(f"the report took longer than the time limit ({timeout} s per step)", str(exc)) from None
    except DeadKernelError as exc:
        raise ReportError(f"the Python kernel '{KERNEL}' died while making the report", str(exc)) from None


def run_report(
    kind: str, parameters: dict, out_html: Path, *, title: str, timeout: int = 300, start_timeout: int = 60, kernel=None
) -> ReportResult:
    """Execute the ``kind`` notebook with ``parameters`` and write HTML plus the executed notebook.

    The executed ``.ipynb`` is kept beside the HTML for audit. Both are
    written under temporary names and renamed when complete, with the
    permissions of the process's file-creation mask (the command line and
    :func:`~.monthly.run_monthly` set it: owner-only unless configured). With
    ``kernel`` (a :class:`~.pool.WarmKernel`) the notebook runs in that
    already-started kernel, which is wiped clean afterwards; without it,
    papermill starts a fresh kernel for this report alone.
    """
    started = time.perf_counter()
    notebook = notebook_path(kind)
    check_parameters(notebook, parameters, required=("patient_id",) if kind == "patient" else ())
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_ipynb = out_html.with_suffix(".ipynb")
    tmp_ipynb = out_html.with_name(f".{out_html.stem}.tmp-{os.getpid()}.ipynb")
    if kernel is not None:
        executed = _run_warm(kernel, notebook, parameters, timeout)
        html = render_html(executed, title=title)
        _atomic_write(out_ipynb, nbformat.writes(executed))
        _atomic_write(out_html, html)
        return ReportResult(out_html.stem, "ok", time.perf_counter() - started, str(out_html), str(out_ipynb))
    try:
        executed = papermill.execute_notebook(
            str(notebook),
            str(tmp_ipynb),
            parameters=parameters,
            kernel_name=KERNEL,
            progress_bar=False,
            start_timeout=start_timeout,
            execution_timeout=timeout,
            cwd=str(notebook.parent),
            extra_arguments=KERNEL_ARGUMENTS,
            kernel_manager_class=PrivateKernelManager,
        )
    except papermill.PapermillExecutionError as exc:
        tmp_ipynb.unlink(missing_ok=True)
        raise ReportError(
            f"a step of the report failed: {exc.ename}: {str(exc.evalue).splitlines()[0] if exc.evalue else ''}".strip(),
            str(exc),
        ) from None
    except TimeoutError as exc:
        tmp_ipynb.unlink(missing_ok=True)
        raise ReportError(f"the report took longer than the time limit ({timeout} s per step)", str(exc)) from None
    except RuntimeError as exc:  # nbclient: the kernel died or did not start
        tmp_ipynb.unlink(missing_ok=True)
        raise ReportError(f"the Python kernel '{KERNEL}' failed: {str(exc).splitlines()[0]}", str(exc)) from None
    html = render_html(executed, title=title)
    os.replace(tmp_ipynb, out_ipynb)
    _atomic_write(out_html, html)
    return ReportResult(out_html.stem, "ok", time.perf_counter() - started, str(out_html), str(out_ipynb))
