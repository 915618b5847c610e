"""Adding, removing and replacing documents safely: only browser uploads, one size limit, safe names,
never an overwrite, never a half-written file in the docs folder, and a removed or replaced file set
aside until its new index is in.

A set-aside file waits in a hidden folder of the docs folder (the indexer skips it), under its own
path there. The folder is marked committed once the new index is live, then deleted; ``recover``,
at the next start, puts back what a killed action left set aside without that mark."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from rag.documents.formats import DOC_SUFFIXES, extract, is_plain
from ui.text import DocumentError, UploadRejected, md_escape

MB = 1_000_000  # one unit everywhere: 1 MB is 10^6 bytes, as file managers count it
MAX_UPLOAD_BYTES = 5 * MB
LIMIT = f"{MAX_UPLOAD_BYTES / MB:g} MB"  # what the page and refusals call the limit
KINDS = f"{', '.join(DOC_SUFFIXES[:-1])} or {DOC_SUFFIXES[-1]}"  # what the page and refusals name
MAX_STEM_CHARS = 100


# --- uploads ---------------------------------------------------------------------------------


def megabytes(size: int) -> str:
    """``6.0 MB``: a size in MB (10^6 bytes), to one decimal."""
    return f"{size / MB:.1f} MB"


def too_large(size: int) -> str:
    """The one message for a file over the size limit: the page shows it before uploading, the server after.

    Rounded to one decimal like every size the page shows, but never down to the limit itself: a file
    one byte over 5 MB is "5.1 MB", not "5.0 MB; the limit is 5 MB"."""
    shown = max(round(size / MB, 1), math.floor(MAX_UPLOAD_BYTES / MB * 10 + 1) / 10)
    return f"the file is {shown:.1f} MB; the limit is {LIMIT}"


EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception): ")


def plain_reason(why: str) -> str:
    """A reader's refusal in the user's words: "this PDF is damaged: stream has ended unexpectedly",
    not "the file cannot be read (not a readable PDF (PdfStreamError: Stream has ended unexpectedly))";
    other reasons keep "the file cannot be read (...)", without exception names."""
    damaged = re.fullmatch(r"not a readable (PDF|\.\w+) \((?:\w+: )?(.*)\)", why, re.S)
    if damaged:
        kind, detail = damaged.groups()
        kind = kind if kind == "PDF" else f"{kind} file"
        return f"this {kind} is damaged: {detail[:1].lower()}{detail[1:]}".rstrip(".")
    return f"the file cannot be read ({EXCEPTION_NAME.sub('', why)})"


def not_done(action: str, name: str, why: str) -> str:
    """The one shape of a refused document action: ``⚠️ Not added x.txt: why. Nothing was changed.``"""
    return f"⚠️ Not {action} {md_escape(name)}: {md_escape(why)}. Nothing was changed."


def safe_name(name: str) -> str:
    """A plain file name for an upload: no folders, no hidden name, only word characters, '-' and '.'.

    Raises UploadRejected unless the name ends in a suffix the indexer reads (``formats.DOC_SUFFIXES``,
    the one list, so the chat accepts exactly what the indexer reads).
    """
    base = unicodedata.normalize("NFKC", re.split(r"[\\/]", name)[-1]).strip()
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}"
    if not dot or suffix not in DOC_SUFFIXES:
        raise UploadRejected(f"only {KINDS} files can be added")
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
        raise UploadRejected(plain_reason(str(exc))) from None
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


SET_ASIDE_PREFIX = ".set-aside-"
COMMITTED = ".committed"  # in a set-aside folder: the change is live, what it holds may go
WRITING_PREFIX = ".upload-"  # an upload being written; linked into place only when whole
NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK)


@contextlib.contextmanager
def docs_written() -> Iterator[None]:
    """A failed write to the docs folder (full, read-only) as DocumentError: one line for the user."""
    try:
        yield
    except OSError as exc:
        raise DocumentError(f"cannot write to the docs folder: {exc.strerror or exc}") from None


def save_new(docs_dir: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``docs_dir/name``, or ``name-1``, ``name-2``... so no existing file is overwritten.
    The file appears whole or not at all (``place_new``), so a kill cannot leave half an upload to index."""
    stem, suffix = name.rsplit(".", 1)
    with docs_written(), written(docs_dir, data) as tmp:
        for n in range(10_000):
            path = docs_dir / (name if n == 0 else f"{stem}-{n}.{suffix}")
            if place_new(tmp, path):
                return path
    raise UploadRejected(f"too many files named like {name}")


def write_new(path: Path, docs_dir: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, which must not exist (FileExistsError), whole or not at all."""
    with docs_written(), written(docs_dir, data) as tmp:
        if not place_new(tmp, path):
            raise FileExistsError(f"{path.name} already exists")


@contextlib.contextmanager
def written(docs_dir: Path, data: bytes) -> Iterator[Path]:
    """``data`` in a hidden, synced file of ``docs_dir`` for the block (removed after it, or by ``recover``)."""
    fd, name = tempfile.mkstemp(prefix=WRITING_PREFIX, dir=docs_dir)
    tmp = Path(name)
    try:
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def place_new(tmp: Path, path: Path) -> bool:
    """Give the whole file ``tmp`` the name ``path`` unless that name is taken (False): a hard link
    never overwrites, even in a race, and the name never shows a half-written file."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in NO_HARD_LINKS:
            raise
        return _copy_new(tmp, path)  # a file system without hard links: "x" still never overwrites
    return True


def _copy_new(tmp: Path, path: Path) -> bool:
    """``place_new`` where hard links are not supported: a copy, removed again if it cannot be finished."""
    try:
        with open(path, "xb") as f:
            try:
                f.write(tmp.read_bytes())
                f.flush()
                os.fsync(f.fileno())
            except BaseException:
                path.unlink(missing_ok=True)
                raise
    except FileExistsError:
        return False
    return True


@contextlib.contextmanager
def set_aside(docs_dir: Path, source: str) -> Iterator[Path]:
    """Move document ``source`` out of the index's sight (into a hidden folder of ``docs_dir``, which
    the indexer skips) while the index is rebuilt without it: put back if the block fails, deleted
    once it succeeds (the block succeeds only when the new index is live).

    A kill before the block ends leaves the folder unmarked, and ``recover`` puts the file back; a
    kill after it leaves it marked ``COMMITTED``, and ``recover`` deletes it."""
    path = docs_dir / source
    with docs_written():
        holder = Path(tempfile.mkdtemp(prefix=SET_ASIDE_PREFIX, dir=docs_dir))
        kept = holder / source  # its own path inside, so that a restart knows where it goes back
        kept.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, kept)
    try:
        yield kept
    except BaseException:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(kept, path)  # also over a half-done replacement; if this fails, the folder stays for recover
        shutil.rmtree(holder, ignore_errors=True)
        raise
    (holder / COMMITTED).touch()
    shutil.rmtree(holder, ignore_errors=True)


def recover(docs_dir: Path) -> list[str]:
    """Finish what killed document actions left in ``docs_dir``; one line for each file put back.

    A set-aside folder without the ``COMMITTED`` mark belongs to an action that never reported done:
    its file goes back to its place (over a replacement, which was not live either). A marked one,
    and an upload's unfinished temporary file, are deleted. Run at start, before the index is updated."""
    notes: list[str] = []
    for leftover in sorted(docs_dir.glob(f"{WRITING_PREFIX}*")):
        leftover.unlink(missing_ok=True)
    for holder in sorted(p for p in docs_dir.glob(f"{SET_ASIDE_PREFIX}*") if p.is_dir()):
        if not (holder / COMMITTED).exists():
            notes += _put_back(holder, docs_dir)
            if any(p.is_file() for p in holder.rglob("*")):
                continue  # a file that could not go back stays where it is
        shutil.rmtree(holder, ignore_errors=True)
    return notes


def _put_back(holder: Path, docs_dir: Path) -> list[str]:
    """Every file of an unmarked set-aside folder back to its place in ``docs_dir``; what was done, in lines."""
    notes = []
    for kept in sorted(p for p in holder.rglob("*") if p.is_file()):
        source = kept.relative_to(holder).as_posix()
        try:
            (docs_dir / source).parent.mkdir(parents=True, exist_ok=True)
            os.replace(kept, docs_dir / source)
        except OSError as exc:
            notes.append(f"could not put back {source} ({exc.strerror or exc}); it is kept in {holder}")
            continue
        notes.append(f"put back {source}: a change to it was interrupted before its index was live")
    return notes
