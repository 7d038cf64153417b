"""Secret keys for keyed pseudonyms: one file format, one loader, one creator.

A key file holds the secret as text: the key is the file's bytes with
surrounding whitespace removed, at least :data:`KEY_BYTES` (32) of them.
:func:`create_key_file` writes 64 random hex digits (256 bits) and a
newline, readable by its owner only (0600); a key made by hand with
``python -c "import secrets; print(secrets.token_hex(32))" > export.key`` is
the same format. The research export and the practitioner code names of the
clinic report both read their key with :func:`load_key`; the research
export may take it from the :data:`KEY_ENV_VAR` environment variable
instead of a file. Key files written by earlier versions are read as they
were: an export key was already this format, and a practitioner key of 32
random bytes (not text) is used byte for byte, so no pseudonym changes.
"""

from __future__ import annotations

import os
import secrets
import unicodedata
from pathlib import Path

from ..errors import InputError, NeedlingAnalyticsWarning
from .permissions import warn_if_shared

#: Shortest key accepted, in bytes (a 256-bit key written as hex is 64).
KEY_BYTES = 32
#: Environment variable read by :func:`load_key` when no key file is given (the research export).
KEY_ENV_VAR = "NEEDLING_EXPORT_KEY"
#: What to do about a missing or short key.
KEY_HINT = (
    'create a key once with `python -c "import secrets; print(secrets.token_hex(32))" > export.key` and '
    "`chmod 600 export.key`, keep it outside the export folder and never send it with an export, then pass the "
    f"file's path as the key file or put its content in the {KEY_ENV_VAR} environment variable. Use the same key "
    "for every export: it is what links a patient's pseudonym across exports. (A monthly run makes its "
    "practitioner key, `.practitioner-key` in its output folder, by itself.)"
)


class PrivacyWarning(NeedlingAnalyticsWarning):
    """A setting weakens the protection of patients' data (e.g. a key others can read, a small area's ZIP prefix)."""


class KeyFileWarning(PrivacyWarning):
    """A key file can be read or written by other users."""


def create_key_file(path: str | Path) -> Path:
    """The key file at ``path``: created the first time (64 random hex digits, mode 0600), then reused.

    The file is written under a temporary name and linked into place, so
    two runs starting together end up with the same key. Its folder is
    created if needed (its mode follows the caller's file permissions).

    Returns
    -------
    Path
        ``path``, after :func:`load_key` has checked it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        draft = path.parent / f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
        try:
            os.link(draft, path)  # fails if another run made the key first: theirs is kept
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    load_key(key_file=path)
    return path


def load_key(*, key_file: str | Path | None = None, env_var: str = KEY_ENV_VAR) -> bytes:
    """The secret key in ``key_file``, or else in the environment variable ``env_var``.

    Parameters
    ----------
    key_file : str or Path, optional
        File holding the key (the format is described above). When given,
        the environment is not read.
    env_var : str
        Environment variable holding the key when no ``key_file`` is given.

    Returns
    -------
    bytes
        The key, at least :data:`KEY_BYTES` (32) bytes long.

    Raises
    ------
    InputError
        When there is no key (never falls back to an unkeyed hash), the key
        file is missing, or the key is shorter than 32 bytes. The message
        says how to create a key.

    Warns
    -----
    KeyFileWarning
        When the key file can be read or written by the group or others.
    """
    if key_file is not None:
        path = Path(key_file)
        if not path.is_file():
            raise InputError("key file not found", path=path, hint=KEY_HINT)
        warn_if_shared(path, "key file", KeyFileWarning)
        key = _key_in(path.read_bytes())
        where: Path | None = path
    else:
        key = os.environ.get(env_var, "").encode("utf-8").strip()
        if not key:
            raise InputError(
                f"no export key: the research export needs a secret key (a key file, or the {env_var} "
                "environment variable) and never falls back to an unkeyed hash",
                hint=KEY_HINT,
            )
        where = None
    if len(key) < KEY_BYTES:
        source = "the key file" if where is not None else f"the {env_var} environment variable"
        raise InputError(
            f"the key in {source} is {len(key)} bytes long; at least {KEY_BYTES} are needed",
            path=where,
            hint=KEY_HINT,
        )
    return key


def _key_in(content: bytes) -> bytes:
    """The key a file's bytes hold: text without surrounding whitespace, or a binary key as it is.

    Binary keys are the practitioner keys of earlier versions (32 random
    bytes): stripping whitespace from them would change the key, and every
    code name with it. Random bytes are almost never UTF-8 text free of
    control characters.
    """
    text = content.strip()
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return content
    if any(unicodedata.category(c) == "Cc" for c in decoded):
        return content
    return text
