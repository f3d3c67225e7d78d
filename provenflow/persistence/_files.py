"""Writing a file of a `dir://` store whole and durably, or not at all.

A file is written to a temporary name beside its final one (`.tmp-<random>`), flushed to disk,
and given its final name with `os.link`, which, unlike `rename`, never replaces an existing
file: of two writers of one name exactly one succeeds. The directory is then flushed, so that
the name survives a power cut too. A killed writer leaves at most a stray `.tmp-*` file, which
readers ignore.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = ["create_durably", "remove_tree", "sync_directory", "write_durably"]


def write_durably(path: Path, text: str) -> None:
    """Write `path` whole and flush it to disk (it must not exist yet)."""
    with open(path, "xb") as file:
        file.write(text.encode())
        file.flush()
        os.fsync(file.fileno())


def create_durably(path: Path, text: str) -> bool:
    """Give `path` the content `text` atomically, unless it exists; return whether it was made.

    The text goes to a temporary file, is fsynced, and is linked to `path` (a link, unlike a
    rename, never replaces an existing file); then the directory is fsynced.
    """
    temporary = path.with_name(f".tmp-{uuid.uuid4().hex}")
    write_durably(temporary, text)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    sync_directory(path.parent)
    return True


def sync_directory(path: Path) -> None:
    """Flush the directory `path` (the names in it) to disk; nothing on Windows."""
    if not hasattr(os, "O_DIRECTORY"):  # Windows cannot open a directory to sync it
        return
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_tree(path: Path) -> None:
    """Remove the directory `path` and the files in it (a staging directory: no subdirectory)."""
    for child in path.iterdir():
        child.unlink()
    path.rmdir()
