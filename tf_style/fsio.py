"""Atomic writes of files and folders: a reader sees the old output or the complete new one.

The one place the library writes outputs: pictures (:func:`tf_style.image.save_image`), JSON
run descriptions and ``.keras`` files (training), SavedModel folders, TFLite files and the
arbitrary model's TFLite pair (:mod:`tf_style.export`). Everything goes to a temporary name
beside the target (same filesystem, so the rename is atomic), is fsynced, gets the
permissions a plain ``open()`` would give, and is renamed into place; the folder is fsynced
after. No TensorFlow here (bottom layer).

Example:
    >>> from tf_style.fsio import atomic_file, write_bytes_atomic
    >>> with atomic_file("run.json", "w") as f:  # doctest: +SKIP
    ...     f.write("{}")
    >>> write_bytes_atomic("model.tflite", flatbuffer)  # doctest: +SKIP
    PosixPath('model.tflite')
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import tempfile
import uuid
from typing import IO, Any, Callable, Iterator, Optional, Union

from tf_style.errors import OutputError, TfStyleError

__all__ = [
    "atomic_path",
    "atomic_file",
    "write_bytes_atomic",
    "write_dir_atomically",
    "write_error_reason",
    "fsync_dir",
]

PathLike = Union[str, os.PathLike]

#: What an OS says when a write fails; TensorFlow's file errors embed these in long messages.
_WRITE_FAILURES = ("No space left on device", "File too large", "Disk quota exceeded",
                   "Read-only file system", "Permission denied", "Input/output error")


def _oneline(text: object) -> str:
    return " ".join(str(text).split())


def write_error_reason(err: BaseException, limit: int = 300) -> str:
    """Why a write failed, in one short line: the OS's own words where it gave any.

    >>> write_error_reason(OSError(28, "No space left on device"))
    'No space left on device'
    """
    text = _oneline(err)
    for phrase in _WRITE_FAILURES:
        if phrase in text:
            return phrase
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = f"{type(err).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def umask() -> int:
    """The process's umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)  # no thread-safe way elsewhere; restored at once
    os.umask(old)
    return old


def fsync_dir(directory: PathLike) -> None:
    """fsync a folder (makes a rename inside it durable); silent where a filesystem cannot."""
    try:
        fd = os.open(os.fspath(directory), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # the rename is done; some filesystems cannot fsync a directory
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: PathLike, *, suffix: str = ".tmp") -> Iterator[str]:
    """A temporary file name beside ``path``; on success it replaces ``path`` atomically.

    For writers that want a name (``model.save``, ``zipfile``). Whatever the block raises
    propagates, and the temporary file is removed: ``path`` is either the old file or the
    complete new one, never a partial write.

    Example:
        >>> with atomic_path("run.json") as tmp:  # doctest: +SKIP
        ...     pathlib.Path(tmp).write_text("{}")
    """
    out = pathlib.Path(os.fspath(path))
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(out.parent)


@contextlib.contextmanager
def atomic_file(path: PathLike, mode: str = "wb", *, encoding: Optional[str] = None,
                suffix: str = ".tmp") -> Iterator[IO[Any]]:
    """An open temporary file beside ``path`` (``mode`` "wb" or "w"); flushed, fsynced and
    renamed over ``path`` when the block ends without an exception (else removed).

    Example:
        >>> with atomic_file("run.json", "w", encoding="utf-8") as f:  # doctest: +SKIP
        ...     json.dump({"steps": 10}, f)
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_file: mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path, suffix=suffix) as tmp:
        with open(tmp, mode, encoding=encoding if mode == "w" else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def write_bytes_atomic(path: PathLike, data: bytes, *,
                       recheck: Optional[Callable[[], Any]] = None) -> pathlib.Path:
    """Write ``data`` to ``path`` atomically; returns the path.

    ``recheck()`` runs just before the rename (a caller's "may I replace it?" check: the file
    may have appeared since). A :class:`tf_style.errors.TfStyleError` it raises propagates;
    any other failure is an :class:`OutputError` naming ``path``, with no temporary file left.
    """
    out = pathlib.Path(os.fspath(path))
    try:
        with atomic_file(out, "wb") as f:
            f.write(data)
            if recheck is not None:
                recheck()
    except TfStyleError:
        raise
    except Exception as err:  # noqa: BLE001 - one OutputError for any write failure
        raise OutputError(f"cannot write {out}: {write_error_reason(err)}") from None
    return out


def write_dir_atomically(out: PathLike, fill: Callable[[pathlib.Path], None],
                         recheck: Callable[[], Any]) -> pathlib.Path:
    """The one atomic folder write: ``fill(tmp)`` writes a temporary folder beside ``out``,
    ``recheck()`` runs again just before an existing ``out`` is replaced (it may have appeared
    since the caller's check), then ``tmp`` takes ``out``'s place. Any failure is an
    :class:`OutputError`, with the previous ``out`` untouched and no temporary left.

    Example:
        >>> write_dir_atomically(Path("serving/1"), lambda tmp: archive.write_out(str(tmp)),
        ...                      lambda: None)  # doctest: +SKIP
    """
    out = pathlib.Path(os.fspath(out))
    tmp: Optional[pathlib.Path] = pathlib.Path(
        tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    old = None
    try:
        fill(tmp)
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes it 0700
        if out.exists() or out.is_symlink():
            recheck()
            old = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.old"
            os.replace(out, old)
        os.replace(tmp, out)
        tmp = None
    except TfStyleError:
        raise
    except Exception as err:  # noqa: BLE001 - one OutputError for any write failure
        raise OutputError(f"cannot write {out}: {write_error_reason(err)}") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    fsync_dir(out.parent)
    return out
