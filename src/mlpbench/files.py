"""Files written whole or not at all, safe when several processes share an output folder."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from mlpbench.errors import UsageError


def alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def output_folder(out: str | Path) -> Path:
    """An output folder as given; an empty name is refused (Path('') would be the current
    folder, where nothing was asked to be written)."""
    if not str(out).strip():
        raise UsageError(f"the output folder must be named, got {str(out)!r}")
    return Path(out)


def make_folder(folder: Path) -> None:
    """Create an output folder, or say in one line why it cannot be."""
    for part in (folder, *folder.parents):
        if part.exists() and not part.is_dir():
            raise UsageError(f"output folder {folder} cannot be made: {part} is a file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"output folder {folder} cannot be made: {e.strerror}") from None


def temporary(path: Path) -> Path:
    """This process's temporary file beside path (name.PID.tmp.ext), never shared."""
    return path.with_name(f"{path.stem}.{os.getpid()}.tmp{path.suffix}")


def writable(path: Path) -> Path:
    """path, or one line saying why a file cannot be written there (a folder in its place),
    checked before the work that would fill it."""
    if path.is_dir():
        raise UsageError(f"cannot write {path}: a folder is in its place; move it away")
    return path


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary file to write path's content to, renamed onto path when the block ends, so
    path is written whole or not at all; a fault (a full disk, a file size limit, a folder in
    its place) is one line naming path."""
    tmp = temporary(writable(path))
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """Write a text file whole or not at all (replacing)."""
    with replacing(path) as tmp:
        tmp.write_text(text)


def remove_stray(folder: Path) -> None:
    """Delete temporary files left by processes killed while writing."""
    for tmp in folder.glob("*.tmp.*"):
        pid = tmp.name.split(".")[-3]
        if pid.isdigit() and not alive(int(pid)):
            tmp.unlink(missing_ok=True)
