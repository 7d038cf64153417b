"""Which Python kernel runs the reports: the registered one, else this interpreter.

``make install`` registers a Jupyter kernel named ``needling-analytics``
(JupyterLab users pick it to open the notebooks). A plain ``pip install``
or ``conda env create`` does not, and the reports must work all the same:
when no kernel of that name is registered, kernels are started from the
Python running the command (``sys.executable -m ipykernel_launcher``),
which has the package and its dependencies by construction. Every kernel
the runner starts goes through :class:`ReportKernelSpecs` (the warm pool,
``--isolation strict`` and the ``report`` command alike), so the choice is
made here only.
"""

from __future__ import annotations

import importlib.util
import logging
import sys

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

from ..errors import InputError

KERNEL = "needling-analytics"
log = logging.getLogger("needling_analytics.runner")


def interpreter_spec() -> KernelSpec:
    """A kernel spec that starts ipykernel from the running Python.

    Raises
    ------
    InputError
        When ipykernel is not installed in this Python, saying how to install it.
    """
    if importlib.util.find_spec("ipykernel") is None:
        raise InputError(
            f"the reports run in a Jupyter kernel, but ipykernel is not installed in this Python ({sys.executable})",
            hint=f"install it with `{sys.executable} -m pip install ipykernel` "
            "(or `conda install -c conda-forge ipykernel` in a conda environment)",
        )
    return KernelSpec(
        name=KERNEL,
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name=f"Python ({KERNEL})",
        language="python",
    )


class ReportKernelSpecs(KernelSpecManager):
    """Jupyter's kernel specs, with :data:`KERNEL` falling back to :func:`interpreter_spec` when not registered."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        try:
            return super().get_kernel_spec(kernel_name)
        except NoSuchKernel:
            if kernel_name != KERNEL:
                raise
        log.debug("no '%s' kernel is registered: kernels start from %s", KERNEL, sys.executable)
        return interpreter_spec()


def report_kernel_spec() -> KernelSpec:
    """The spec report kernels start from; checks early that one can start (raises :class:`InputError` if not)."""
    return ReportKernelSpecs().get_kernel_spec(KERNEL)
