"""A PDF's text as a reader needs it: whole words, no page furniture, headings apart, scans read by OCR.

Text extracted from a typeset PDF (pypdf) carries what the printed page needed and a reader does
not: words hyphenated at line ends ("individu-\\nally"), running headers and footers and page
numbers repeated on every page (and so wedged into sentences that cross a page), ligature
characters ("ﬁles"), and headings glued to the paragraph before them. This module cleans that up
*before* the text becomes the document's text, so the cleaned text is what is indexed, answered
from and shown: ``text[start:end] == answer`` holds on it, and page starts are computed after the
cleanup, so a cited page is right.

- A line-end hyphen inside a word is joined ("individually"): the word moves up to the line before
  (the line count stays), across a page break too. The hyphen is kept when the document itself
  writes the word with one ("command-line") or when the next part is capitalised or follows a digit.
- Lines at a page's top or bottom that repeat on several pages, digits aside ("Chapter 2: Setup
  14", "Page 3 of 9", "- 7 -"), are running headers, footers or page numbers and are left out.
- A numbered heading ("3.1 Invoking X") starts a paragraph: a blank line goes before it, and the
  line break after it stays, so no answer or chunk runs from one section into the next heading.
- A page with no text layer is read by OCR (``rag.documents.ocr``) and cleaned the same way.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar

from rag.documents import ocr
from rag.documents.parts import PAGE_SEPARATOR, tidy
from rag.types import Extracted

MAX_PDF_PAGES = 10_000  # pages read from one PDF
MAX_PDF_CHARS = 50_000_000  # characters of text from one PDF (pypdf bounds each stream at 75 MB)

LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})

# --- running headers, footers and page numbers
EDGE_LINES = 2  # lines at a page's top and bottom where running headers and footers are looked for
MAX_RUNNING_CHARS = 120
DIGITS = re.compile(r"\d+")
ROMAN = re.compile(r"x{0,3}(?:ix|iv|v?i{0,3})")  # front matter's page numbers, i to xxxix
PAGE_NUMBER = re.compile(r"[-–—\[(|]?\s*(?:page|p\.)?\s*#\s*(?:(?:/|of)\s*#)?\s*[-–—\])|]?")

# --- hyphenation
WORD = re.compile(r"[^\W\d_]+(?:[-\u2010][^\W\d_]+)*")
BROKEN_WORD = re.compile(
    r"(?<!\w)(?P<head>\w+)(?P<mark>[-\u00ad\u2010])\n[ \t]*(?P<tail>[^\W\d_][\w'’]*)(?P<rest>\S*)[ \t]*"
)
HYPHENATED_PREFIXES = {"self", "well", "half", "cross", "non"}  # kept when the document says nothing

# --- headings
NUMBERED_HEADING = re.compile(
    r"(?:\d{1,2}(?:\.\d{1,2}){0,4}\.?|[A-Z]\.\d{1,2}(?:\.\d{1,2}){0,3}\.?|(?:Chapter|Appendix|Part|Section)\s+\w+\.?:?)"
    r"\s+[^\W\d_a-z]"
)
MAX_HEADING_CHARS = 70
MAX_HEADING_WORDS = 10
ENDS_SENTENCE = tuple(".:;!?)]}\"'”’")

T = TypeVar("T")
log = logging.getLogger(__name__)
_warned: set[tuple[str, tuple[int, ...]]] = set()


def page_ranges(pages: Sequence[int]) -> str:
    """``1-3, 7`` for the 1-based pages 1, 2, 3 and 7."""
    runs: list[list[int]] = []
    for page in sorted(pages):
        if runs and page == runs[-1][1] + 1:
            runs[-1][1] = page
        else:
            runs.append([page, page])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def pdf_text(data: bytes, source: str = "the PDF") -> Extracted:
    """The reading text of a PDF: each page's text (pypdf, or Tesseract OCR for a page with no text
    layer) cleaned as the module says, pages joined by PAGE_SEPARATOR, with the offset where each
    starts and the pages read by OCR. ValueError with a reason for a damaged, encrypted or textless PDF.

    Without Tesseract, pages that need OCR are left empty and one warning names them (once per file
    and process: the text is extracted again for each citation check); a PDF with no other text is refused."""
    pages = _page_texts(data)
    empty = [i for i, text in enumerate(pages) if not text.strip()]
    scanned = ocr.drawn_pages(data, empty) if empty else []
    unread: list[int] = []
    if scanned and ocr.tesseract() is not None:
        for i, text in ocr.read_pages(data, scanned).items():
            pages[i] = tidy(text.translate(LIGATURES))
    else:
        unread = scanned
    pages = clean_pages(pages)
    starts, offset = [], 0
    for page in pages:
        starts.append(offset)
        offset += len(page) + len(PAGE_SEPARATOR)
    text = PAGE_SEPARATOR.join(pages)
    if not text.strip():
        if unread:
            raise ValueError(f"the PDF has no text layer (a scan?); {ocr.ENABLE_OCR.replace('them', 'it')}")
        raise ValueError("the PDF has no extractable text")
    if unread:
        _warn_unread(source, tuple(i + 1 for i in unread))
    read_by_ocr = tuple(i + 1 for i in scanned if i not in unread and pages[i])
    return Extracted(text, tuple(starts), ocr=read_by_ocr)


def _page_texts(data: bytes) -> list[str]:
    """Each page's text as pypdf extracts it, tidied, ligatures spelled out; ValueError for a damaged,
    encrypted or oversized PDF."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    def pypdf(read: Callable[[], T]) -> T:  # pypdf raises many kinds of errors on damaged files: one reason each
        try:
            return read()
        except FileNotDecryptedError:
            raise ValueError("encrypted PDF (it needs a password)") from None
        except DependencyError:  # AES without the cryptography package (pinned, so a broken install)
            raise ValueError("encrypted PDF (AES; reading it needs the cryptography package)") from None
        except Exception as exc:
            raise ValueError(f"not a readable PDF ({type(exc).__name__}: {exc})") from None

    # pypdf logs every repairable flaw of a file; only failures matter here, and they raise.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = pypdf(lambda: PdfReader(io.BytesIO(data)))
    count = pypdf(lambda: len(reader.pages))
    if count > MAX_PDF_PAGES:
        raise ValueError(f"the PDF has {count:,} pages; the limit is {MAX_PDF_PAGES:,}")
    pages: list[str] = []
    size = 0
    for i in range(count):
        pages.append(tidy((pypdf(lambda i=i: reader.pages[i].extract_text()) or "").translate(LIGATURES)))
        size += len(pages[-1])
        if size > MAX_PDF_CHARS:
            raise ValueError(f"the PDF's text is over {MAX_PDF_CHARS // 1_000_000} million characters")
    return pages


def _warn_unread(source: str, pages: tuple[int, ...]) -> None:
    """One line saying which pages were not read and how to read them, once per file and process."""
    if (source, pages) in _warned:
        return
    _warned.add((source, pages))
    noun = "page" if len(pages) == 1 else "pages"
    verb = "has" if len(pages) == 1 else "have"
    it = "it" if len(pages) == 1 else "them"
    log.warning(
        "warning: %s: %s %s %s no text layer (scanned?) and %s left out; %s",
        source,
        noun,
        page_ranges(pages),
        verb,
        "was" if len(pages) == 1 else "were",
        ocr.ENABLE_OCR.replace("them", it),
    )


# --- the cleanup -----------------------------------------------------------------------------


def clean_pages(pages: Sequence[str]) -> list[str]:
    """The pages' texts with running headers, footers and page numbers left out, line-end hyphens
    joined (also across pages) and a blank line before each numbered heading."""
    lines = [page.split("\n") if page else [] for page in pages]
    drop_running_lines(lines)
    texts = ["\n".join(page) for page in lines]
    hyphenation = Hyphenation(texts)
    texts = [join_hyphenated(text, hyphenation) for text in texts]
    for i in range(len(texts) - 1):
        texts[i], texts[i + 1] = join_across_pages(texts[i], texts[i + 1], hyphenation)
    full = line_width([line for text in texts for line in text.split("\n")])
    return [tidy(separate_headings(text, full)) for text in texts]


def running_key(line: str) -> str | None:
    """What a line has in common with the same header, footer or page number on other pages: lower
    case, single spaces, each number (arabic or a lone roman one) as ``#``, and a page number alone
    ("7", "- 7 -", "Page 7 of 9") as ``#``. None for a line that cannot be one: blank, long, or
    without a letter unless it is a page number ("}" ends code on many pages)."""
    key = " ".join(line.split()).lower()
    if not key or len(key) > MAX_RUNNING_CHARS:
        return None
    key = DIGITS.sub("#", key)
    if ROMAN.fullmatch(key) or PAGE_NUMBER.fullmatch(key):
        return "#"
    return key if any(c.isalpha() for c in key) else None


def _edges(page: list[str]) -> tuple[list[int], list[int]]:
    """Indices of the first and of the last ``EDGE_LINES`` non-blank lines of a page, from the edge inwards."""
    filled = [i for i, line in enumerate(page) if line.strip()]
    return filled[:EDGE_LINES], filled[::-1][:EDGE_LINES]


def _edge_numbers(line: str) -> set[int]:
    """The numbers a line begins or ends with (where a running header prints its page number)."""
    words = line.split()
    return {int(w) for w in (words[:1] + words[-1:]) if w.isdigit() and len(w) <= 5}


def page_number_offset(pages: Sequence[list[str]], needed: int) -> int | None:
    """The printed page number minus the page's index, if at least ``needed`` pages print one at an edge:
    a line at an edge that begins or ends with that page's number is then a running header or footer,
    even where its words appear on no other page (a two-page chapter's header)."""
    offsets: Counter[int] = Counter()
    for index, page in enumerate(pages):
        top, bottom = _edges(page)
        offsets.update({n - index for i in top + bottom for n in _edge_numbers(page[i])})
    best = offsets.most_common(1)
    return best[0][0] if best and best[0][1] >= needed else None


def _longest_run(pages: Sequence[int]) -> int:
    """The most of ``pages`` (sorted) in a row with at most one page between two of them: a running header
    is on every page of its chapter, or every other one; a line of text that starts some pages is not."""
    longest = run = min(len(pages), 1)
    for a, b in zip(pages, pages[1:]):
        run = run + 1 if b - a <= 2 else 1
        longest = max(longest, run)
    return longest


def drop_running_lines(pages: list[list[str]]) -> None:
    """Remove, in place, the running headers, footers and page numbers: lines at a page's top or bottom
    edge (its first or last ``EDGE_LINES`` lines, removed from the edge inwards) whose ``running_key`` is
    at the same edge of at least 3 pages in a row, or every other page (2 in a PDF of 2 or 3 pages),
    and does not end like a sentence or a label ("Possible return values:" starts many pages of
    a manual); or that print the page's own number and repeat. The first page keeps its top lines but
    a page number: a title page's title is often the running header of later pages ("Shared MIME-info
    Database"), and a header printed once more costs little."""
    texted = [page for page in pages if any(line.strip() for line in page)]
    if len(texted) < 2:
        return
    needed = 2 if len(texted) <= 3 else 3
    seen: dict[tuple[bool, str], list[int]] = {}
    for index, page in enumerate(pages):
        for top, side in zip((True, False), _edges(page)):
            for key in {key for i in side if (key := running_key(page[i]))}:
                seen.setdefault((top, key), []).append(index)
    offset = page_number_offset(pages, needed)

    def running(top: bool, line: str, index: int) -> bool:
        key = running_key(line)
        if key is None:
            return False
        where = seen.get((top, key), [])
        if index == 0 and top and key != "#":
            return False  # a title page's title, which later pages may repeat as their header
        numbered = offset is not None and index + offset in _edge_numbers(line)
        if key == "#":
            return numbered or len(where) >= needed
        if key.endswith((".", ":", ";", ",")):
            return False
        return _longest_run(where) >= needed or (len(where) >= 2 and numbered)

    for index, page in enumerate(pages):
        drop = set()
        for top, side in zip((True, False), _edges(page)):
            for i in side:
                if not running(top, page[i], index):
                    break
                drop.add(i)
        page[:] = [line for i, line in enumerate(page) if i not in drop]


class Hyphenation:
    """Decides whether ``head-`` + ``tail`` broken at a line end is a compound written with its hyphen
    ("command-line") or a word the typesetter hyphenated ("individu-ally"), by the document's own usage.

    The document's spelling elsewhere decides first (``vocabulary``: its words, hyphenated compounds
    included). Then capitals: "Burrows-Wheeler" and "LOCK-prefixed" keep the hyphen, "OP-TIONAL" does
    not. Otherwise the document's habit decides: TeX hyphenates words at line ends, so most breaks that
    its spelling explains are joined; DocBook/FOP breaks lines only at hyphens already there, so most
    are kept, and an unexplained break follows the majority (ties join)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.vocabulary = Counter(w.lower() for text in texts for w in WORD.findall(text))
        votes = [v for text in texts for m in BROKEN_WORD.finditer(text) if (v := self._spelled(m)) is not None]
        self.keep_by_default = sum(votes) > len(votes) / 2

    def _spelled(self, m: re.Match[str]) -> bool | None:
        """What the document's spelling says about a break: keep the hyphen, join, or None (no evidence)."""
        joined, compound = (m["head"] + m["tail"]).lower(), f"{m['head']}-{m['tail']}".lower()
        if self.vocabulary[compound] == self.vocabulary[joined]:
            return None
        return self.vocabulary[compound] > self.vocabulary[joined]

    def keep(self, m: re.Match[str]) -> bool:
        """Whether the break matched by ``BROKEN_WORD`` keeps its hyphen."""
        head, tail = m["head"], m["tail"]
        if m["mark"] == "\u00ad":  # a soft hyphen marks a place to hyphenate a word, never a compound
            return False
        if m.start() and m.string[m.start() - 1] in "-/.:@\\":
            return True  # a later part of a compound, an option, a path or an address: --track-\norigins
        spelled = self._spelled(m)
        if spelled is not None:
            return spelled
        if head[-1].isdigit() or (tail[0].isupper() and not (head.isupper() and tail.isupper())):
            return True  # 64-bit, Burrows-Wheeler; not OP-TIONAL
        if len(head) > 1 and head.isupper() and tail.islower():
            return True  # LOCK-prefixed
        return self.keep_by_default or head.lower() in HYPHENATED_PREFIXES


def join_hyphenated(text: str, hyphenation: Hyphenation) -> str:
    """``text`` with each word hyphenated at a line end made whole on the first line ("individu-\\nally
    rest" becomes "individually\\nrest"), its hyphen kept where ``hyphenation`` says so."""

    def whole(m: re.Match[str]) -> str:
        joiner = m["mark"] if hyphenation.keep(m) else ""
        line_goes_on = m.end() < len(text) and text[m.end()] != "\n"
        return f"{m['head']}{joiner}{m['tail']}{m['rest']}" + ("\n" if line_goes_on else "")

    return BROKEN_WORD.sub(whole, text)


def join_across_pages(page: str, after: str, hyphenation: Hyphenation) -> tuple[str, str]:
    """A word hyphenated at the end of ``page`` made whole there, with the part that began ``after``:
    the word is cited on the page where it starts, and the next page starts after it."""
    if not page or not after:
        return page, after
    cut = page.rfind("\n") + 1
    last = page[cut:]
    first, newline, others = after.partition("\n")
    both = f"{last}\n{first}"
    joined = join_hyphenated(both, hyphenation)
    if joined == both:
        return page, after
    whole, _, rest = joined.partition("\n")
    return page[:cut] + whole, (rest + newline + others if rest else others)


def line_width(lines: Sequence[str]) -> int:
    """The width of a full line of the document's body text (90th percentile of its line lengths)."""
    lengths = sorted(len(line.strip()) for line in lines if line.strip())
    return lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0


def is_heading(line: str, before: str, full: int) -> bool:
    """A numbered heading ("3.1 Invoking X", "Chapter 2 Setup"): short, not ending a sentence or in a
    page number (a table of contents line), and after a line that ended (not one wrapped at full width)."""
    line, before = line.strip(), before.strip()
    if not NUMBERED_HEADING.match(line) or len(line) > MAX_HEADING_CHARS or len(line.split()) > MAX_HEADING_WORDS:
        return False
    if line.endswith((".", ",", ";", ":")) or re.search(r"\s\d+$", line) or re.search(r"\.\s?\.\s?\.", line):
        return False
    return before.endswith(ENDS_SENTENCE) or len(before) < 0.7 * full


def _numbered_line(line: str) -> bool:
    """A short line that starts like a numbered heading: a heading, or a row of a numbered table or list."""
    line = line.strip()
    return bool(NUMBERED_HEADING.match(line)) and len(line) <= MAX_HEADING_CHARS


def separate_headings(text: str, full: int) -> str:
    """``text`` with a blank line before each numbered heading that follows a line of text; not between
    two numbered lines (a chapter's title and its first section; the rows of a numbered table)."""
    lines = text.split("\n")
    out: list[str] = []
    for line in lines:
        before = out[-1] if out else ""
        if before.strip() and is_heading(line, before, full) and not _numbered_line(before):
            out.append("")
        out.append(line)
    return "\n".join(out)
