"""Finding the files of a docs folder safely, and telling content from page chrome.

The text of a .txt or .md file is the file decoded exactly as stored (no newline
translation, no normalisation), so every offset the system reports indexes the file itself;
for .html, .pdf and .docx it is the text extracted from the file (``rag.documents.formats``).
Cleaning never edits that text: it only lists the spans that are content. Files are read, chunked
and embedded as the index is built (``rag.index.build.read_file``), which skips unreadable ones.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.documents.formats import DOC_SUFFIXES, extract
from rag.documents.formats import decode as decode  # re-exported: the plain-text reader
from rag.errors import UsageError
from rag.types import Span

# Whole lines that are navigation or forum furniture, not content. Matched after
# stripping whitespace and a leading bullet, case-insensitively.
CHROME_LINE = re.compile(
    r"(?:back|top|back to top|home|menu|share|reply|quote|next|previous|print|"
    r"skip to (?:main )?content|log ?in|sign ?in|sign ?up|subscribe|"
    r"(?:thread |post )?author)",
    re.IGNORECASE,
)
BULLET = re.compile(r"^[\s•·▪►*\-–—]+")
LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why (shown to the user as a warning)."""

    source: str
    reason: str


def skip_warning(source: str, reason: str) -> str:
    """The one-line warning for a skipped file: control characters (a newline in a file name, in a
    parser's message) are shown escaped, never as line breaks."""

    def shown(text: str) -> str:
        return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)

    return f"warning: skipped {shown(source)}: {shown(reason)}"


def is_chrome(line: str) -> bool:
    """True for a line that is page furniture ("Back", "• Thread Author") or blank."""
    bare = BULLET.sub("", line.strip().strip("\ufeff")).strip()
    return not bare or CHROME_LINE.fullmatch(bare) is not None


def content_spans(text: str) -> tuple[Span, ...]:
    """The spans of ``text`` that are content: runs of non-chrome lines, trimmed of whitespace.

    A run ends at a chrome or blank line, so a chunk never has to straddle one.
    """
    spans: list[Span] = []
    run_start: int | None = None
    run_end = 0
    for match in LINE.finditer(text):
        if match.start() == match.end():
            break
        line = match.group()
        if is_chrome(line):
            if run_start is not None:
                spans.append(Span(run_start, run_end))
                run_start = None
            continue
        stripped_left = len(line) - len(line.lstrip().lstrip("\ufeff").lstrip())  # a BOM is no content
        if run_start is None:
            run_start = match.start() + stripped_left
        run_end = match.start() + len(line.rstrip())
    if run_start is not None:
        spans.append(Span(run_start, run_end))
    return tuple(spans)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read a block at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def refusal(docs_dir: Path, rel: Path) -> str | None:
    """Why the file ``docs_dir / rel`` must not be read, or None: a link whose target leaves the
    folder (``ln -s /etc/passwd docs/p.txt``) or a name that is not valid UTF-8."""
    try:
        rel.as_posix().encode("utf-8")
    except UnicodeEncodeError:
        return "file name is not valid UTF-8; rename it"
    path = docs_dir / rel
    linked = path.is_symlink() or any((docs_dir / parent).is_symlink() for parent in rel.parents)
    if linked and not path.resolve().is_relative_to(docs_dir.resolve()):
        return "a link to a file outside the docs folder (not followed)"
    return None


def scan(docs_dir: Path) -> tuple[list[tuple[str, Path]], list[Skipped]]:
    """Every supported file under ``docs_dir`` as (source, path), sorted, hidden files left out,
    and the files refused (see ``refusal``), which the caller reports as warnings."""
    found: list[tuple[str, Path]] = []
    refused: list[Skipped] = []
    for path in sorted(docs_dir.rglob("*")):
        rel = path.relative_to(docs_dir)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.suffix.lower() not in DOC_SUFFIXES or not path.is_file():
            continue
        why = refusal(docs_dir, rel)
        source = os.fsencode(rel.as_posix()).decode("utf-8", "backslashreplace")  # printable, even if not UTF-8
        if why:
            refused.append(Skipped(source, why))
        else:
            found.append((source, path))
    return found, refused


def doc_paths(docs_dir: Path) -> Iterator[tuple[str, Path]]:
    """The files ``scan`` accepts, as (source, path)."""
    yield from scan(docs_dir)[0]


def path_of(docs_dir: Path, source: str) -> Path:
    """The file behind ``source``; ValueError if it would leave the docs folder (``../``, a link out)."""
    inside = (docs_dir.resolve() / source).resolve()  # an absolute source replaces the folder here
    if ".." in Path(source).parts or not inside.is_relative_to(docs_dir.resolve()):
        raise ValueError(f"{source} is outside the docs folder")
    return docs_dir / source


def check_docs_dir(docs_dir: Path) -> None:
    if not docs_dir.is_dir():
        raise UsageError(f"docs folder not found: {docs_dir}")
    if next(doc_paths(docs_dir), None) is None:
        kinds = ", ".join(DOC_SUFFIXES)
        raise UsageError(f"no documents ({kinds}) in docs folder: {docs_dir}")


def file_text(docs_dir: Path, source: str) -> str:
    """The full text of the file ``source`` as it is on disk now, the text every offset of ``source`` refers
    to while the file is unchanged (``Index.kept_text`` is the text the index read).

    The file as stored for .txt and .md; the (deterministic) extracted text for other kinds.
    """
    return extract(source, path_of(docs_dir, source).read_bytes()).text
