"""Writing an output file without ever destroying data: the one helper every QDT writer uses.

Two guarantees, for query and selection exports, snapshots, reports, glTF scenes and project
files alike:

- **An output never replaces one of its inputs.** The target is compared with every input
  file by identity (``os.path.samefile``: the same inode), not by spelling, so a symlink, a
  ``./`` prefix, another letter case on a case-insensitive disk or a hard link are all caught.
- **An output is written whole or not at all.** The writer writes into a private temporary
  folder beside the target (same file system), the file is flushed to disk, and only then
  renamed onto the target (``os.replace``, atomic on POSIX and Windows). A failure, a
  cancel or a crash leaves the old target as it was and no half-written file. The folder
  rather than a temporary file name lets GDAL write its side files (``-journal``) next to
  the new file, and keeps the target's suffix, which GDAL and Pillow choose the format by.

Stdlib only, so every layer of QDT may import it.

::

    with atomic_output(path, inputs=input_files(project.layers, project.path), error=ExportError) as temp:
        pyogrio.write_dataframe(frame, temp, driver="GPKG")
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["OutputError", "atomic_output", "input_files", "is_same_file", "refuse_inputs"]


class OutputError(Exception):
    """An output that cannot be written; ``str()`` is one line naming the file."""


def is_same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when both paths name one existing file (symlinks, ``./``, case, hard links resolved)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def input_files(layers: Iterable[Any] = (), *paths: Any) -> list[Path]:
    """The local files a set of layers was read from (``layer.source``), plus ``paths``.

    Database URIs and layers without a source are skipped; a Shapefile brings its side files.
    """
    out: list[Path] = []
    for item in [getattr(layer, "source", None) for layer in layers] + list(paths):
        if item is None or not str(item) or "://" in str(item):
            continue
        path = Path(item)
        out.append(path)
        if path.suffix.lower() == ".shp":
            out += [path.with_suffix(ext) for ext in (".dbf", ".shx", ".prj", ".cpg")]
    return out


def refuse_inputs(target: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]],
                  error: type[Exception] = OutputError) -> None:
    """Raise ``error`` when ``target`` is the same file as one of ``inputs``."""
    target = Path(target)
    if not target.exists():
        return  # a file that does not exist yet cannot be an input
    for source in inputs:
        if is_same_file(target, source):
            same = "" if os.path.abspath(target) == os.path.abspath(source) else f" ('{source}')"
            raise error(f"cannot write '{target}': it is one of the inputs{same}; "
                        "choose another file name so the data is not overwritten")


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str]] = (),
                  error: type[Exception] = OutputError) -> Iterator[Path]:
    """Yield a temporary path (same name, a hidden folder beside ``target``) to write; on
    success move it onto ``target``, on any exception delete it and leave ``target`` untouched.

    Raises ``error`` (one line naming the file) when ``target`` is an input, is a folder, its
    folder does not exist or cannot be written.
    """
    target = Path(target)
    refuse_inputs(target, inputs, error)
    if target.is_dir():
        raise error(f"cannot write '{target}': it is a folder")
    folder = target.parent
    if not folder.is_dir():
        raise error(f"cannot write '{target}': folder '{folder}' does not exist")
    try:
        temp_dir = Path(tempfile.mkdtemp(prefix=".qdt-", dir=folder))
    except OSError as exc:
        raise error(f"cannot write '{target}': {exc.strerror or exc}") from None
    temp = temp_dir / target.name
    try:
        yield temp
        if not temp.is_file():
            raise error(f"cannot write '{target}': the writer produced no file")
        mode = target.stat().st_mode & 0o7777 if target.is_file() else _new_file_mode()
        with open(temp, "rb+") as fh:  # on disk before it becomes visible under the real name
            os.fsync(fh.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except OSError as exc:
        raise error(f"cannot write '{target}': {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


def read_small_text(path: str | os.PathLike[str], max_bytes: int, what: str,
                    error: type[Exception] = OutputError) -> str:
    """The UTF-8 text of a settings-sized file (a template, a project), refused with ``error``
    when it is not a regular file (a symlink to ``/dev/zero`` would be read until memory runs
    out), is larger than ``max_bytes``, cannot be read or is not UTF-8."""
    path = Path(path)
    try:
        if not path.is_file():
            raise error(f"{what} '{path}' " + ("does not exist" if not path.exists() else
                                               "is not a regular file (a device, folder or pipe)"))
        size = path.stat().st_size
        if size > max_bytes:
            raise error(f"{what} '{path}' is {size:,} bytes; at most {max_bytes:,} are expected")
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise error(f"{what} '{path}' is larger than the {max_bytes:,} bytes expected")
        return data.decode("utf-8")
    except OSError as exc:
        raise error(f"{what} '{path}' cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{what} '{path}' is not UTF-8 text (byte {exc.start})") from None
