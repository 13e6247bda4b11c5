"""Nothing half-written on disk, nothing of the user's deleted: how the course writes files and folders.

    write_file      a file, atomically: a temporary file beside it, fsync, os.replace
    staged_files    files a library writes itself (an ONNX graph and its weights): written aside, moved in
    replace_folder  a folder, atomically: filled beside its place, then swapped in by two renames
    check_target    the checks replace_folder makes before it writes, for a caller that wants them early
    readable_folder where a load reads a folder (even while a swap was cut off), without changing anything
    verify_folder   the checksums the manifest recorded, compared with the files

A folder the course writes holds a manifest, `course_manifest.json`: what wrote it and the SHA-256 of every
file. It is how a later save knows the folder is the course's to replace (a folder holding anything else is
refused, never deleted), and how a load knows a file was damaged or changed since.

The swap is two renames, as there is no portable atomic exchange of two folders: the old folder becomes
`.NAME.previous`, the filled `.NAME.saving` becomes `NAME`, then the old one is deleted. A process killed
between the renames leaves `NAME` missing and the old folder whole beside it: `readable_folder` reads it
there and the next `replace_folder` puts it back (`recover_folder`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator
from pathlib import Path, PurePosixPath

MANIFEST = "course_manifest.json"


class RefusedPath(ValueError):
    """A path the course will not write to; the message says why and what to do instead."""


# --- Files --------------------------------------------------------------------------------------------------


def read_json(file: Path) -> object:
    """The JSON in `file`, or a ValueError that names the file when it is not valid JSON."""
    try:
        return json.loads(Path(file).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{file} is damaged: it is not valid JSON ({error}).") from None


def write_file(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write `data` to `path` atomically: readers see the old file or the new one, never a part of either."""
    path = _absolute(path)
    if path.is_dir():
        raise RefusedPath(f"{path} is a folder: give the path of a file to write.")
    _check_writable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # Unlike tempfile.mkstemp's 0600, the umask applies, as it does for open(path, "w").
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        if path.is_file():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


@contextlib.contextmanager
def staged_files(path: str | os.PathLike) -> Iterator[Path]:
    """A path for a library that writes `path` (and files beside it) itself; on success they move in.

    The library writes into a temporary folder beside `path`; when the block ends without an error, every file
    there moves beside `path` (the one named like `path` last, so it never points to files not yet in place).
    A failure leaves nothing behind.
    """
    path = _absolute(path)
    if path.is_dir():
        raise RefusedPath(f"{path} is a folder: give the path of a file to write.")
    _check_writable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp:
        yield Path(tmp) / path.name
        written = sorted(Path(tmp).iterdir(), key=lambda file: file.name == path.name)
        _sync(Path(tmp))
        for file in written:
            os.replace(file, path.parent / file.name)
        _sync_folder(path.parent)


# --- Folders ------------------------------------------------------------------------------------------------


def replace_folder(path: str | os.PathLike, write: Callable[[Path], None], writer: str,
                   legacy: Callable[[Path], bool] | None = None) -> Path:
    """Fill a new folder with `write(folder)` beside `path`, record a manifest, then swap it in for `path`.

    A kill at any moment leaves the old folder or the new one. `writer` names what wrote the folder (it goes
    into the manifest). The old folder is replaced only if the course wrote it: it holds the manifest and no
    file the manifest does not list, or `legacy(folder)` says an older version of the course wrote it. Any
    other non-empty folder, a file at `path` or a place that cannot be written is refused (`RefusedPath`).
    """
    path = check_target(path, legacy)
    recover_folder(path, legacy)
    staging, previous = siblings(path)
    if staging.exists():  # left by a save killed while writing
        if _manifest(staging) is None:
            raise RefusedPath(f"{staging} is in the way of saving {path}, and the course did not write it: "
                              "move it elsewhere, then save again.")
        shutil.rmtree(staging)
    if path.exists() and previous.exists():  # recover_folder left it: not the course's
        raise RefusedPath(f"{previous} is in the way of replacing {path}, and the course did not write it: "
                          "move it elsewhere, then save again.")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging.mkdir()
    try:
        _write_manifest(staging, writer, {})  # marks the folder as the course's before anything else is in it
        write(staging)
        _write_manifest(staging, writer, _digests(staging))
        _sync(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if path.exists():
        os.replace(path, previous)
    os.replace(staging, path)
    _sync_folder(path.parent)
    shutil.rmtree(previous, ignore_errors=True)
    return path


def check_target(path: str | os.PathLike, legacy: Callable[[Path], bool] | None = None) -> Path:
    """`path` made absolute if `replace_folder` may write a folder there; else `RefusedPath` saying why.

    Nothing is written: a caller about to spend hours on a model can check its destination first.
    """
    if not os.fspath(path).strip():
        raise RefusedPath("The folder's path is empty: name the folder to save to, e.g. models/imdb.")
    path = _absolute(path)
    if path.exists() and not path.is_dir():
        raise RefusedPath(f"{path} is a file, not a folder: choose a folder's path (the file is left as "
                          "it is).")
    foreign = _foreign(path, legacy) if path.is_dir() else []
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise RefusedPath(f"{path} holds files the course did not write ({shown}); it is not replaced, so "
                          "that nothing in it is lost. Choose a new or empty folder, or one the course "
                          "saved.")
    _check_writable(path)
    return path


def recover_folder(path: str | os.PathLike, legacy: Callable[[Path], bool] | None = None) -> None:
    """Finish a swap that was cut off: put the old folder back, or delete it once the new one is in place.

    Only a folder the course wrote is moved or deleted; anything else named like it is left alone.
    """
    path = _absolute(path)
    previous = siblings(path)[1]
    if not previous.is_dir() or _foreign(previous, legacy):
        return
    if path.exists():
        shutil.rmtree(previous)
    else:
        os.replace(previous, path)


def readable_folder(path: str | os.PathLike) -> Path:
    """Where to read the folder `path` (made absolute): itself, or, while a swap was cut off, the old folder.

    Reading changes nothing on disk: the next `replace_folder` finishes the swap.
    """
    path = Path(path).expanduser().resolve()
    previous = siblings(path)[1]
    return previous if not path.exists() and previous.is_dir() else path


def verify_folder(folder: str | os.PathLike) -> dict | None:
    """The folder's manifest after checking every file it lists; None for a folder without a manifest.

    A missing file or one whose SHA-256 differs from the recorded one raises a ValueError naming it.
    """
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        return None
    manifest = _manifest(folder)
    if manifest is None:
        raise ValueError(f"{folder / MANIFEST} is damaged: it lists no files. Save the folder again.")
    actual = _digests(folder, only=manifest["files"])
    for name, digest in manifest["files"].items():
        if name not in actual:
            raise ValueError(f"{folder / name} is missing, though {MANIFEST} lists it: the folder is "
                             "incomplete. Save it again, or copy the whole folder.")
        if actual[name] != digest:
            raise ValueError(f"{folder / name} is damaged or was changed since it was saved (its SHA-256 "
                             f"differs from the one in {MANIFEST}). Save the folder again.")
    return manifest


def siblings(path: Path) -> tuple[Path, Path]:
    """The folder a replacement is written into, and where the old folder waits during the swap.

    >>> [p.name for p in siblings(Path("models/imdb"))]
    ['.imdb.saving', '.imdb.previous']
    """
    return path.with_name(f".{path.name}.saving"), path.with_name(f".{path.name}.previous")


# --- The pieces ---------------------------------------------------------------------------------------------


def _absolute(path: str | os.PathLike) -> Path:
    """`path` with ~ expanded, symbolic links and .. resolved; a refusal for an empty path or the root."""
    if not os.fspath(path).strip():
        raise RefusedPath("The path is empty: name the file or folder to write.")
    path = Path(path).expanduser().resolve()
    if path.parent == path:
        raise RefusedPath(f"{path} is the root of the file system: name a file or folder inside it.")
    return path


def _check_writable(path: Path) -> None:
    """Refuse `path` if its nearest existing ancestor is a file or cannot be written into (nothing stays)."""
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise RefusedPath(f"Cannot write {path}: {ancestor} is a file, not a folder. Choose another path.")
    try:  # try it: permissions alone do not tell (root passes them; /proc refuses everyone)
        os.rmdir(tempfile.mkdtemp(dir=ancestor, prefix=".course-check-"))
    except OSError as error:
        raise RefusedPath(f"Cannot write {path}: {ancestor} cannot be written to ({error.strerror}). "
                          "Choose a folder you can write to.") from None


def _foreign(folder: Path, legacy: Callable[[Path], bool] | None) -> list[str]:
    """What in `folder` the course did not write, as top-level names: replacing it would lose these."""
    manifest = _manifest(folder)
    if manifest is None and legacy is not None and legacy(folder):
        return []
    listed = set(manifest["files"]) | {MANIFEST} if manifest is not None else set()
    listed |= {parent.as_posix() for name in listed for parent in PurePosixPath(name).parents}
    found = (p.relative_to(folder).as_posix() for p in folder.rglob("*"))
    return sorted({name.split("/")[0] for name in found if name not in listed})


def _manifest(folder: Path) -> dict | None:
    """The manifest in `folder` (what wrote it, the files' digests) if it holds a readable one, else None."""
    try:
        manifest = read_json(folder / MANIFEST)
    except (OSError, ValueError):
        return None
    wellformed = (isinstance(manifest, dict) and isinstance(manifest.get("written_by"), str)
                  and isinstance(manifest.get("files"), dict))
    return manifest if wellformed else None


def _write_manifest(folder: Path, writer: str, digests: dict[str, str]) -> None:
    """Record what wrote `folder` and the SHA-256 of each of its files."""
    write_file(folder / MANIFEST, json.dumps({"written_by": writer, "files": digests}, indent=1) + "\n")


def _digests(folder: Path, only: Collection | None = None) -> dict[str, str]:
    """SHA-256 of every file in `folder` (or of those named in `only`) but the manifest, by relative path."""
    if only is None:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    else:
        files = [folder / name for name in only if (folder / name).is_file()]
    digests = {}
    for file in files:
        with open(file, "rb") as f:
            digests[file.relative_to(folder).as_posix()] = hashlib.file_digest(f, "sha256").hexdigest()
    return digests


def _sync(folder: Path) -> None:
    """Flush every file and folder under `folder` to disk: a rename must not publish what a crash loses."""
    for entry in sorted(folder.rglob("*"), key=lambda p: not p.is_file()):
        if entry.is_file():
            with open(entry, "rb") as f:
                os.fsync(f.fileno())
        else:
            _sync_folder(entry)
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (the names of the files in it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
