"""Adding, removing and replacing documents safely: only browser uploads, one size limit, safe names,
never an overwrite, and a removed file set aside until its new index is in."""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from rag.config import DOC_SUFFIXES
from rag.documents.formats import extract, is_plain
from ui.text import UploadRejected, md_escape

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_STEM_CHARS = 100


# --- uploads ---------------------------------------------------------------------------------


def too_large(size: int) -> str:
    """The one message for a file over the size limit: the page shows it before uploading, the server after."""
    shown = math.ceil(size / 2**20 * 10) / 10  # rounded up: 5 MB and one byte is "5.1 MB", over the limit
    return f"the file is {shown:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB"


def not_done(action: str, name: str, why: str) -> str:
    """The one shape of a refused document action: ``⚠️ Not added x.txt: why. Nothing was changed.``"""
    return f"⚠️ Not {action} {md_escape(name)}: {md_escape(why)}. Nothing was changed."


def safe_name(name: str) -> str:
    """A plain file name for an upload: no folders, no hidden name, only word characters, '-' and '.'.

    Raises UploadRejected unless the name ends in a supported suffix (DOC_SUFFIXES).
    """
    base = unicodedata.normalize("NFKC", re.split(r"[\\/]", name)[-1]).strip()
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}"
    if not dot or suffix not in DOC_SUFFIXES:
        raise UploadRejected(f"only {', '.join(DOC_SUFFIXES[:-1])} or {DOC_SUFFIXES[-1]} files can be added")
    stem = re.sub(r"[^\w.-]+", "-", stem)
    stem = re.sub(r"([.-])[.-]+", r"\1", stem).strip("._-")[:MAX_STEM_CHARS].rstrip("._-")
    return (stem or "document") + suffix


def check_size(size: int) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise UploadRejected(too_large(size))


def check_upload(data: bytes, name: str) -> str:
    """The upload's text, read as the indexer will read it (by ``name``'s suffix).

    Raises UploadRejected for files that are too large, unreadable (binary or not UTF-8 text,
    a damaged or encrypted PDF...) or without text.
    """
    check_size(len(data))
    try:
        text = extract(name, data).text
    except ValueError as exc:
        if is_plain(name):
            raise UploadRejected(f"the file cannot be read as text ({exc}); save it as UTF-8 plain text") from None
        raise UploadRejected(f"the file cannot be read ({exc})") from None
    if not text.strip():
        raise UploadRejected("the file has no text")
    return text


def uploaded_file(path: Path, uploads_dir: Path) -> Path:
    """``path`` if it is a plain file inside ``uploads_dir`` (where Gradio keeps what browsers
    uploaded), else UploadRejected: an API client must not name a server file to be copied in."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UploadRejected("the uploaded file is gone; upload it again") from None
    if path.is_symlink() or not real.is_file() or not real.is_relative_to(uploads_dir.resolve()):
        raise UploadRejected("only files uploaded from the browser can be added")
    return real


def save_new(docs_dir: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``docs_dir/name``, or ``name-1``, ``name-2``... so no existing file is overwritten."""
    stem, suffix = name.rsplit(".", 1)
    for n in range(10_000):
        path = docs_dir / (name if n == 0 else f"{stem}-{n}.{suffix}")
        try:
            with open(path, "xb") as f:  # "x": fails rather than overwrite, even in a race
                f.write(data)
            return path
        except FileExistsError:
            continue
    raise UploadRejected(f"too many files named like {name}")


@contextlib.contextmanager
def set_aside(path: Path, docs_dir: Path) -> Iterator[Path]:
    """Move ``path`` out of the index's sight (into a hidden folder of ``docs_dir``, which the indexer
    skips) while the index is rebuilt without it: put back if the block fails, deleted once it succeeds."""
    holder = Path(tempfile.mkdtemp(prefix=".set-aside-", dir=docs_dir))
    kept = holder / path.name
    os.replace(path, kept)
    try:
        yield kept
    except BaseException:
        os.replace(kept, path)  # also over a half-written replacement
        raise
    finally:
        shutil.rmtree(holder, ignore_errors=True)
