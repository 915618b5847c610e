"""What the chat page does, without Gradio: replies with their sources, the document view, confidence
labels, safe uploads, removals and replacements, and the locks that keep questions going meanwhile.

Everything here is plain Python so it can be unit-tested; ``ui.app`` only lays it out.
Text from documents and users is always escaped before it reaches Markdown or HTML.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import math
import os
import re
import shutil
import tempfile
import threading
import unicodedata
import urllib.parse
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.config import DOC_SUFFIXES
from rag.documents.folder import doc_paths, path_of
from rag.documents.folder import text_of as file_text_of
from rag.documents.formats import extract, is_plain
from rag.errors import RagError, UsageError
from rag.pipeline import Pipeline
from rag.reader import READERS, Reader, load_reader
from rag.types import Answer, Extracted, Passage, Result, Span

NOT_FOUND = "Not found in the documents."
SEARCHING = "Searching your documents…"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_STEM_CHARS = 100
THRESHOLD_STEP = 0.01  # the threshold slider's step

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~$])")


class DocumentError(RagError):
    """A document action (add, remove, replace, view) that cannot be done; the message says why,
    and nothing was changed."""


class UploadRejected(DocumentError):
    """An uploaded file that cannot be added; the message says why, and nothing was written."""


def md_escape(text: str) -> str:
    """``text`` as Markdown that displays literally: no HTML, no formatting, no links."""
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=False)


def one_line(text: str) -> str:
    return " ".join(text.split())


def count(n: int, noun: str) -> str:
    """``1 passage``, ``2 passages``: a number with its noun in the right number."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- confidence ------------------------------------------------------------------------------

# The one rule for confidence labels. A reader's score is a probability (the trained reader's is a
# sigmoid of how far the span beats its window's "no answer" slot) and its threshold is the
# calibrated point below which it abstains. The label compares the two as log-odds: "high" when the
# score's odds are at least e^6 (about 400) times the threshold's, "medium" from e^3 (20) times, "low"
# below that: just above the abstention point, or under it when a user lowered the threshold. For
# the trained reader (threshold about 0.05) that is high from 0.95, "about 19 in 20", and medium
# from 0.5, "more likely than not"; the rule-based reader (0.24) rarely reaches high, as it should.
CONFIDENCE_STEPS = ((6.0, "high"), (3.0, "medium"))


def log_odds(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def confidence(score: float, threshold: float) -> str:
    """``high``, ``medium`` or ``low``: how far ``score`` is above the reader's calibrated ``threshold``."""
    margin = log_odds(score) - log_odds(threshold)
    return next((label for step, label in CONFIDENCE_STEPS if margin >= step), "low")


def on_slider(value: float) -> float:
    """``value`` as the threshold slider shows it, rounded to its step (0.0459 is shown as 0.05)."""
    return round(round(value / THRESHOLD_STEP) * THRESHOLD_STEP, 2)


# --- sentences around a span -----------------------------------------------------------------

SENTENCE_ENDS = ".!?…"
CLOSERS = "\"'”’)]»"
EXCERPT_REACH = 300  # characters searched on each side of a span for the ends of its sentence
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
_COMMON = frozenset(
    "the and for are was were who whom what when where which why how did does has had have its not but can "
    "with from that this been they their there about into".split()
)


def word_keys(text: str) -> set[str]:
    """The words of ``text`` that say something, crudely stemmed (``supplies``, ``supply`` -> ``suppl``)."""
    words = (w.lower() for w in _WORD.findall(text))
    return {w[:5] if len(w) >= 5 else w.rstrip("s") for w in words if len(w) > 2 and w not in _COMMON}


def ends_sentence(text: str, i: int, j: int) -> bool:
    """Whether the whitespace ``text[i:j]`` separates two sentences.

    It does after ``.``, ``!`` or ``?`` (closing quotes allowed) and at a line break, unless the next
    word is in lower case (an abbreviation, a PDF's wrapped line); a blank line always does.
    """
    nxt = text[j : j + 1]
    if not nxt or text.count("\n", i, j) >= 2:
        return True
    if nxt.islower():
        return False
    before = text[max(0, i - 4) : i].rstrip(CLOSERS)[-1:]
    return bool(before) and before in SENTENCE_ENDS or "\n" in text[i:j]


@dataclass(frozen=True)
class Cut:
    """A part of a text: ``[start, end)``, and whether it begins or ends inside a sentence."""

    start: int
    end: int
    cut_before: bool = False
    cut_after: bool = False


def sentence_around(text: str, start: int, end: int, reach: int = EXCERPT_REACH) -> Cut:
    """The whole sentence(s) of ``text`` holding ``[start, end)``; a sentence longer than ``reach``
    characters on a side is cut there, at a word."""
    lo, hi = max(0, start - reach), min(len(text), end + reach)
    begin, found = lo, lo == 0
    for m in _SPACE.finditer(text, lo, start):
        if ends_sentence(text, m.start(), m.end()):
            begin, found = m.end(), True
    if not found:
        first = _SPACE.search(text, lo, start)
        begin = first.end() if first else start
    finish, closed = end, False
    spaces = list(_SPACE.finditer(text, end, hi))
    for m in spaces:
        if ends_sentence(text, m.start(), m.end()):
            finish, closed = m.start(), True
            break
    if not closed:
        closed = hi == len(text)
        finish = hi if closed else (spaces[-1].start() if spaces else end)
    while begin < start and text[begin].isspace():
        begin += 1
    while finish > end and text[finish - 1].isspace():
        finish -= 1
    return Cut(begin, max(finish, end), not found, not closed)


def ranked_sentences(text: str, start: int, end: int, question: str) -> list[tuple[int, int]]:
    """The sentences of ``text[start:end]``, those sharing the most words with ``question`` first (on a
    tie, the first of a line's length or more): what a passage without the answer shows, not its first words."""
    wanted = word_keys(question)
    bounds = [start]
    for m in _SPACE.finditer(text, start, end):
        if ends_sentence(text, m.start(), m.end()):
            bounds += [m.start(), m.end()]
    bounds.append(end)
    sentences = [(a, b) for a, b in zip(bounds[::2], bounds[1::2], strict=True) if text[a:b].strip()]

    def shared(s: tuple[int, int]) -> tuple[int, int]:  # then the longer, up to a line: not a heading
        return len(wanted & word_keys(text[s[0] : s[1]])), min(s[1] - s[0], 120)

    return sorted(sentences, key=shared, reverse=True) or [(start, end)]


# --- sources ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Excerpt:
    """What a source shows: whole sentences of a document around a span, and the answer to mark in them.

    ``start``/``end`` are offsets into the document's text and ``text`` is that slice; ``mark`` is the
    answer's span when the excerpt holds it; ``page`` is the PDF page where the excerpt starts.
    """

    source: str
    start: int
    end: int
    text: str
    page: int | None = None
    mark: Span | None = None
    cut_before: bool = False
    cut_after: bool = False

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)


TextOf = Callable[[str], str | None]
PageOf = Callable[[str, int], int | None]


def covering(item: Answer | Passage, text_of: TextOf) -> tuple[str, int, bool]:
    """A text that holds ``item``, the document offset where it starts, and whether it is the whole
    document: the document's text when it still matches ``item`` there, else the passage's own."""
    full = text_of(item.source)
    if full is not None and full[item.start : item.end] == item.text:
        return full, 0, True
    holder = item.passage if isinstance(item, Answer) and item.passage is not None else item
    return holder.text, holder.start, False


def excerpt(
    item: Answer | Passage,
    text_of: TextOf,
    page_of: PageOf,
    question: str = "",
    mark: Answer | None = None,
    shown: Collection[tuple[str, int, int]] = (),
) -> Excerpt | None:
    """The sentence holding ``mark``, else the passage's sentence closest to ``question``, skipping any
    ``(source, start, end)`` already ``shown`` (None when all are). It is cut from the document's text
    by offsets, never found again by searching for its words."""
    text, base, whole = covering(item, text_of)
    candidates = [] if mark is None else [(mark.start - base, mark.end - base)]
    candidates += ranked_sentences(text, item.start - base, item.end - base, question)
    for i, (a, b) in enumerate(candidates):
        cut = sentence_around(text, a, b)
        start, end = base + cut.start, base + cut.end
        if (item.source, start, end) in shown:
            continue
        page = page_of(item.source, start)
        return Excerpt(
            source=item.source,
            start=start,
            end=end,
            text=text[cut.start : cut.end],
            page=item.page if page is None else page,
            mark=mark.span if mark is not None and i == 0 else None,
            cut_before=cut.cut_before or (not whole and cut.start == 0 and base > 0),
            cut_after=cut.cut_after or (not whole and cut.end == len(text)),
        )
    return None


def holds(passage: Passage, answer: Answer | None) -> bool:
    return answer is not None and answer.source == passage.source and passage.span.contains(answer.span)


def sources(result: Result, text_of: TextOf, page_of: PageOf) -> list[Excerpt]:
    """An excerpt per retrieved passage, best first: the answer's sentence, marked, where the passage
    holds the answer, else its sentence closest to the question; never the same sentence twice
    (neighbouring passages overlap), so a passage with nothing new is left out."""
    shown: list[Excerpt] = []
    for p in result.passages:
        mark = result.answer if holds(p, result.answer) else None
        ex = excerpt(p, text_of, page_of, result.question, mark, {(e.source, e.start, e.end) for e in shown})
        if ex is not None:
            shown.append(ex)
    return shown


# --- the reply -------------------------------------------------------------------------------


def place(source: str, page: int | None) -> str:
    """``file`` or ``file, page N``: where a cited span is, as a reader names it."""
    return source if page is None else f"{source}, page {page}"


def digest(text: str) -> str:
    """A short fingerprint of a cited span, so the document view can tell that the document changed."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def document_href(source: str, start: int, end: int, text: str) -> str:
    """The document view's address (relative to the page) with ``[start, end)`` highlighted."""
    query = urllib.parse.urlencode({"source": source, "start": start, "end": end, "check": digest(text)})
    return f"document?{query}#span"


def inline(text: str) -> str:
    """``text`` escaped for HTML, each run of whitespace one space: a reply holds no line break, so
    Markdown keeps it as one HTML block and never reads document text as Markdown."""
    return html.escape(_SPACE.sub(" ", text))


def marked(ex: Excerpt) -> str:
    """The excerpt as HTML, its answer (if any) in ``<mark>``, "…" where it cuts a sentence."""
    if ex.mark is None:
        body = inline(ex.text)
    else:
        a, b = ex.mark.start - ex.start, ex.mark.end - ex.start
        body = f"{inline(ex.text[:a])}<mark>{inline(ex.text[a:b])}</mark>{inline(ex.text[b:])}"
    return ("… " if ex.cut_before else "") + body.strip() + (" …" if ex.cut_after else "")


def cite(source: str, page: int | None, start: int, end: int, text: str) -> str:
    """A link that opens the document at ``[start, end)``, named by file and page."""
    href = html.escape(document_href(source, start, end, text))
    return f'<a class="cite" href="{href}" target="_blank">{html.escape(place(source, page))}</a>'


def source_item(ex: Excerpt) -> str:
    span = ex.mark or ex.span
    text = ex.text[span.start - ex.start : span.end - ex.start]
    link = cite(ex.source, ex.page, span.start, span.end, text)
    return f'<li>{link}<div class="excerpt">{marked(ex)}</div></li>'


def sources_block(shown: Sequence[Excerpt], title: str, note: str) -> str:
    """The sources under a reply, collapsed: one item per passage, best first, and a details line."""
    items = "".join(source_item(ex) for ex in shown)
    return (
        f'<details class="sources"><summary>{html.escape(title)} ({len(shown)})</summary>'
        f'<ol>{items}</ol><p class="details">{html.escape(note)}</p></details>'
    )


def format_reply(
    result: Result, shown: Sequence[Excerpt], found: Excerpt | None, calibrated: float, used: float, seconds: float
) -> str:
    """The chat reply as one HTML block: the answer, the sentence it is copied from with the answer
    marked, its confidence label, a link to the document and the time taken, then the sources
    (collapsed). An abstention says so and still lists the closest passages.

    ``calibrated`` is the reader's own threshold (the labels' reference), ``used`` the one applied.
    """
    answer = result.answer
    took = f'<span class="took">{seconds:.1f} s</span>'
    if answer is None:
        meta = ["The closest passages are listed below." if shown else "", took]
        head = f'<p class="answer abstained">{NOT_FOUND}</p>'
        block = sources_block(shown, "Closest passages", f"The reader answers from a probability of {used:.2f}.")
    else:
        label = confidence(answer.score, calibrated)
        tip = f"The reader's probability for this answer is {answer.score:.2f}; it answers from {used:.2f}."
        meta = [
            f'<span class="confidence {label}" title="{html.escape(tip)}">{label} confidence</span>',
            cite(answer.source, answer.page, answer.start, answer.end, answer.text),
            took,
        ]
        head = f'<p class="answer"><strong>{inline(answer.text)}</strong></p>'
        if found is not None:
            head += f'<blockquote class="quote">{marked(found)}</blockquote>'
        block = sources_block(shown, "Sources", tip) if shown else ""
    return f'<div class="reply">{head}<p class="meta">{" · ".join(m for m in meta if m)}</p>{block}</div>'


# --- the document view -----------------------------------------------------------------------

FONT_FAMILY = "Source Sans Pro"
FONT_FILES = {400: "Regular", 700: "Bold"}  # Gradio's own copies (static/fonts/SourceSansPro/): no fetch


def font_faces(prefix: str = "") -> str:
    """@font-face rules for every weight the pages use, served by the app itself."""
    return "".join(
        f"@font-face {{ font-family: '{FONT_FAMILY}'; font-weight: {weight}; font-style: normal; "
        f"src: url('{prefix}static/fonts/SourceSansPro/SourceSansPro-{name}.woff2') format('woff2'); }}\n"
        for weight, name in FONT_FILES.items()
    )


DOCUMENT_CSS = """
body { margin: 0; font-family: 'Source Sans Pro', sans-serif; color: #1f2937; background: #f9fafb; }
header { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #e5e7eb; padding: 0.75rem 1.5rem; }
h1 { font-size: 1.25rem; margin: 0; font-weight: 700; overflow-wrap: anywhere; }
header p { margin: 0.25rem 0 0; color: #4b5563; }
#text { white-space: pre-wrap; overflow-wrap: anywhere; max-width: 48rem; margin: 1.5rem auto;
        padding: 0 1.5rem 60vh; line-height: 1.6; font-size: 1.05rem; }
mark { background: #fde68a; color: #000; font-weight: 700; border-radius: 3px; scroll-margin-top: 40vh; }
.page::before { content: "Page " attr(data-page); display: block; margin: 1.5rem 0 0.5rem; color: #6b7280;
                font-size: 0.85rem; border-top: 1px solid #e5e7eb; padding-top: 0.5rem; }
"""
DOCUMENT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; font-src 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def text_html(text: str) -> str:
    """``text`` escaped as HTML text whose content is ``text`` exactly (a CR survives as ``&#13;``)."""
    return html.escape(text, quote=False).replace("\r", "&#13;")


def document_body(text: str, pages: Sequence[int], span: Span | None) -> str:
    """The document's text as HTML: ``span`` in ``<mark id="span">`` and a marker at each page start
    outside it. The markers are drawn by CSS, so the text content is the document's text exactly."""
    tags = [
        (start, 1, f'<span class="page" data-page="{n}"></span>')
        for n, start in enumerate(pages, 1)
        if span is None or not span.start < start < span.end
    ]
    if span is not None:
        tags += [(span.start, 2, '<mark id="span">'), (span.end, 0 if len(span) else 3, "</mark>")]
    out, at = [], 0
    for position, _, tag in sorted(tags):
        out += [text_html(text[at:position]), tag]
        at = position
    out.append(text_html(text[at:]))
    return "".join(out)


def document_span(doc: Extracted, start: int | None, end: int | None, check: str | None) -> Span | None:
    """The span to highlight, if it is one of the document's and (given ``check``) still holds the cited text."""
    if start is None or end is None or not 0 <= start <= end <= len(doc.text):
        return None
    if check is not None and digest(doc.text[start:end]) != check:
        return None
    return Span(start, end)


def document_page(source: str, doc: Extracted, span: Span | None, asked: bool = False) -> str:
    """The document view: the whole text (extracted text for html, pdf and docx), scrolled by the
    address's ``#span`` to the highlighted span; ``asked``: a span was asked for (and not found)."""
    if span is not None:
        page = doc.page_of(span.start)
        note = f"The highlighted text{'' if page is None else f' (page {page})'} is what the answer cites."
    elif asked:
        note = "The document has changed since that answer: the cited text is no longer there."
    else:
        note = ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(source)}</title><style>{font_faces()}{DOCUMENT_CSS}</style></head><body>"
        f'<header><h1>{html.escape(source)}</h1><p id="note">{html.escape(note)}</p></header>'
        f'<main id="text">{document_body(doc.text, doc.pages, span)}</main></body></html>'
    )


def problem_page(message: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Document not available</title>'
        f"<style>{font_faces()}{DOCUMENT_CSS}</style></head><body><header><h1>Document not available</h1>"
        f'<p id="note">{html.escape(message)}</p></header></body></html>'
    )


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


READER_LABELS = {
    "neural": "Trained reader: a small language model fine-tuned to find answers (best)",
    "baseline": "Rule-based reader: ranks sentences, then picks a name, date or amount (fast, weaker)",
}


def reader_label(name: str) -> str:
    """What a reader is, in words, for the reader choice."""
    return READER_LABELS.get(name, name)


def load_readers(pipe: Pipeline, names: Sequence[str] = READERS) -> tuple[dict[str, Reader], dict[str, str]]:
    """Every reader that loads, by name (the pipeline's own first), and why the others did not."""
    readers: dict[str, Reader] = {pipe.reader.name: pipe.reader}
    unavailable: dict[str, str] = {}
    for name in names:
        if name in readers:
            continue
        try:
            readers[name] = load_reader(name)
        except Exception as exc:  # a missing or broken model must not stop the page
            unavailable[name] = str(exc)
    return readers, unavailable


class Assistant:
    """The one shared Pipeline: questions one at a time, document changes (add, remove, replace) one
    at a time, and a change's indexing never holds up a question (it is answered from the current
    index until the new one is switched in).

    The reader and threshold are chosen per question (each browser session has its own settings),
    from readers loaded once, up front.
    """

    def __init__(
        self, pipe: Pipeline, readers: dict[str, Reader] | None = None, uploads_dir: Path | None = None
    ) -> None:
        """``uploads_dir``: where uploads must come from (the server's upload folder); None for library use."""
        self.pipe = pipe
        self.lock = threading.Lock()  # one question at a time through the shared models
        self.index_lock = threading.Lock()  # one document change at a time; the new index is switched in when built
        self.readers = readers or {pipe.reader.name: pipe.reader}
        self.uploads_dir = uploads_dir

    @property
    def docs_dir(self) -> Path:
        return self.pipe.docs_dir

    def ask(self, question: str, top_k: int, threshold: float | None = None, reader: str | None = None) -> Result:
        """``Pipeline.ask`` with this session's reader and threshold; raises UsageError for a bad question."""
        name = reader or self.pipe.reader.name
        if name not in self.readers:
            raise UsageError(f"the {name} reader is not available; choose one of: {', '.join(self.readers)}")
        with self.lock:
            return self.pipe.ask(question, top_k=top_k, threshold=threshold, reader=self.readers[name])

    def text_of(self, source: str) -> str | None:
        """The text the offsets of ``source`` index: the index's extracted text (html, pdf, docx), else the file."""
        index = self.pipe.index
        kept = None if index is None else index.text_of(source)
        if kept is not None:
            return kept
        try:
            return file_text_of(self.docs_dir, source)
        except (OSError, ValueError):
            return None

    def page_of(self, source: str, offset: int) -> int | None:
        index = self.pipe.index
        return None if index is None else index.page_of(source, offset)

    def reply(
        self, result: Result, reader: str | None = None, threshold: float | None = None, seconds: float = 0.0
    ) -> str:
        """The chat reply for ``result``, with its own sources: ``reader``/``threshold`` as it was asked."""
        calibrated = self.readers[reader or self.pipe.reader.name].threshold
        text_of = functools.cache(self.text_of)  # each document read once per reply
        shown = sources(result, text_of, self.page_of)
        answer = result.answer
        found = None if answer is None else excerpt(answer, text_of, self.page_of, mark=answer)
        used = calibrated if threshold is None else threshold
        return format_reply(result, shown, found, calibrated, used, seconds)

    def document(self, source: str) -> Extracted:
        """The text of one of the documents (extracted for html, pdf and docx) and its page starts.

        Raises DocumentError for anything that is not one of them, so no other file can be read.
        """
        path = self._path_of(source)
        try:
            return extract(source, path.read_bytes())
        except (OSError, ValueError) as exc:
            raise DocumentError(f"{source} cannot be read ({exc})") from None

    def _path_of(self, source: str) -> Path:
        if source not in self.documents():
            raise DocumentError(f"{source} is not one of the documents")
        return path_of(self.docs_dir, source)

    def remove_document(self, source: str) -> str:
        """Take one document out of the docs folder and the index; returns what happened (Markdown).

        Atomic for the index, like an upload: questions are answered from the current index until
        the new one is switched in, and if indexing fails the file is put back. Raises DocumentError.
        """
        with self.index_lock:
            path = self._path_of(source)
            if len(self.documents()) == 1:
                raise DocumentError(f"{source} is the only document; add another before removing it")
            with set_aside(path, self.docs_dir):
                self.pipe.refresh()
        return f"Removed **{md_escape(source)}**. It is no longer searched."

    def replace_document(self, source: str, upload: Path) -> str:
        """Replace one document with an uploaded file of the same kind, and index it; returns what
        happened (Markdown). Atomic like an upload; on failure the old file is back. Raises DocumentError."""
        if self.uploads_dir is not None:
            upload = uploaded_file(upload, self.uploads_dir)
        suffix = Path(source).suffix.lower()
        if upload.suffix.lower() != suffix:
            raise UploadRejected(f"{source} can only be replaced by a {suffix} file")
        check_size(upload.stat().st_size)
        data = upload.read_bytes()
        check_upload(data, source)
        with self.index_lock:
            path = self._path_of(source)
            with set_aside(path, self.docs_dir):
                with open(path, "xb") as f:
                    f.write(data)
                report = self.pipe.refresh()
        indexed = "" if report is None else f" ({count(report.embedded_chunks, 'passage')} indexed)"
        return f"Replaced **{md_escape(source)}**{indexed}. Questions now read the new version."

    def add_document(self, upload: Path, name: str | None = None) -> str:
        """Save an uploaded file under the docs folder and index it; returns what happened (Markdown).

        Raises UploadRejected, leaving the disk untouched, when the file cannot be added.
        """
        if self.uploads_dir is not None:
            upload = uploaded_file(upload, self.uploads_dir)
        target = safe_name(name or upload.name)
        check_size(upload.stat().st_size)  # before reading a huge file into memory
        data = upload.read_bytes()
        check_upload(data, target)
        with self.index_lock:  # not the ask lock: questions go on, from the current index, meanwhile
            path = save_new(self.docs_dir, target, data)
            try:
                report = self.pipe.refresh()
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        saved = path.name
        message = f"Added **{md_escape(saved)}**"
        if report is not None:
            message += f" ({count(report.embedded_chunks, 'passage')} indexed)"
        message += ". You can ask about it now."
        if saved != target:
            message += (
                f"\n\nA file named {md_escape(target)} already exists, so this one was saved as {md_escape(saved)}."
            )
        return message

    def documents(self) -> list[str]:
        """The documents in the docs folder, as the index names them."""
        return [source for source, _ in doc_paths(self.docs_dir)]
