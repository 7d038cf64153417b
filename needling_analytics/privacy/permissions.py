"""Who may open what the tool writes: its owner only, unless the configuration says otherwise.

Reports, caches, quality reports and quarantine files hold patient data. A
command sets the process's file-creation mask (umask) once, at its start, so
that every file and folder written from then on (by this process, by its
worker processes and by their notebook kernels, which inherit the mask) is
created with the chosen permissions, whichever library wrote it (pandas,
pyarrow, nbconvert...). Setting the mask, rather than changing modes after
writing, leaves no moment when a file is readable by others.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError

#: The umask of each level: which permission bits new files and folders lose.
UMASKS = {
    "owner": 0o077,  # files 0600, folders 0700: only the account that runs the tool
    "group": 0o027,  # files 0640, folders 0750: and its group may read, never write
}


def check_level(level: str) -> str:
    """``level`` when it is known, else an :class:`InputError` naming the choices."""
    if level not in UMASKS:
        raise InputError(
            f"`permissions` must be 'owner' (only the account that runs the tool can read what it writes) "
            f"or 'group' (its group may read too), got {level!r}"
        )
    return level


@contextmanager
def file_permissions(level: str = "owner") -> Iterator[None]:
    """Create every file and folder inside the block readable by ``level`` only.

    The previous mask is restored on leaving. The mask is per process:
    use this around a whole command, not in threads.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as folder, file_permissions("owner"):
    ...     path = os.path.join(folder, "report.html")
    ...     _ = open(path, "w").write("private")
    ...     oct(os.stat(path).st_mode & 0o777)
    '0o600'
    """
    previous = os.umask(UMASKS[check_level(level)])
    try:
        yield
    finally:
        os.umask(previous)


def warn_if_shared(path: Path, what: str, category: type[Warning]) -> None:
    """Warn (``category``) when a secret file such as a key can be read or written by the group or others."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        warnings.warn(
            f"{path}: the {what} can be read by other users (mode {mode:o}); restrict it with `chmod 600 {path}`",
            category,
            stacklevel=3,
        )
