"""Write outputs so that nothing half-written is ever left behind.

Every writer in the project goes through :func:`atomic_path`: it hands out a temporary
path in the destination's folder (same filesystem, so the final rename is atomic) and moves
it into place only when the block finishes without an exception.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(target: str | Path, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path; on success replace ``target`` by it, on error delete it.

    With ``directory=True`` the temporary path is an (empty) folder, and an existing target
    folder is replaced whole.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        # mkstemp/mkdtemp make private (0600/0700) entries; give them the mode open()/mkdir() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, (0o777 if directory else 0o666) & ~umask)
        if directory:
            if target.exists():
                old = target.with_name(f".{target.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        else:
            os.replace(tmp, target)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_text(target: str | Path, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``target``; return the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


# ------------------------------------------------------------------ the one overwrite rule

FORCE_HELP = "replace an existing output (without --force, an existing output is refused)"


def refuse_overwrite(target: str | Path, force: bool, *, folder: bool = False, marker: str | None = None,
                     what: str = "output") -> None:
    """The rule every command-line writer follows: an existing output is refused unless ``force``.

    A file ``target`` that exists is refused (a folder in its place always). A ``folder``
    target that exists and is not empty is refused. With ``force`` the file is replaced and
    the folder written into -- except that a writer replacing its folder whole passes its
    ``marker`` file, and then only an earlier output of the same kind (a folder holding
    ``marker``) is replaced: a folder of other files is never deleted, with or without --force.
    Raises :class:`~operando.errors.InputError` naming the path and saying what to do.
    """
    from operando.errors import InputError

    target = Path(target)
    if not target.exists():
        return
    if not folder:
        if target.is_dir():
            raise InputError(target, "is a folder; give a file name")
        if not force:
            raise InputError(target, f"{what} already exists; pass --force to overwrite it")
        return
    if not target.is_dir():
        raise InputError(target, f"exists and is not a folder; give a folder for the {what}")
    if not any(target.iterdir()):
        return
    if marker is not None and not (target / marker).is_file():
        raise InputError(target, f"exists and holds other files than an earlier {what} (no {marker}); give a new "
                                 f"or empty folder (--force replaces only an earlier {what} folder)")
    if not force:
        held = "an earlier " + what if marker is not None else "files"
        raise InputError(target, f"exists and holds {held}; pass --force to overwrite it")
