"""A reply as the chat shows it: the answer, the sentence it comes from, a confidence label, and its
own sources, each a whole sentence with the answer marked and a link to the document view."""

from __future__ import annotations

import hashlib
import html
import math
import re
import urllib.parse
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rag.documents.formats import is_plain
from rag.reader.confidence import LOG_ODDS_STEPS, log_odds  # the chat's tests read the scale here too
from rag.reader.confidence import label as confidence
from rag.types import NOT_FOUND, Answer, Passage, Result, Span, citation, located

SEARCHING = "Searching your documents…"
THRESHOLD_STEP = 0.01  # the threshold slider's step


# --- confidence ------------------------------------------------------------------------------

# The labels' rule and their measured meaning live with the reader (rag.reader.confidence): a reader
# folder carries cut-offs set on held-out training questions; other readers fall back to log-odds
# above their calibrated threshold.


def on_slider(value: float) -> float:
    """``value`` as the threshold slider shows it, rounded to its step (0.0459 is shown as 0.05)."""
    return round(round(value / THRESHOLD_STEP) * THRESHOLD_STEP, 2)


# What each label means, in the words the reply shows on hover: the labels are measured on questions
# the reader was not trained on (rag.reader.confidence), so they say how often such answers held.
LABEL_MEANING = {
    "high": "High confidence: on questions it had not seen before, answers the reader was this sure of "
    "were the most often exactly right. Still worth a glance at the quoted sentence.",
    "medium": "Medium confidence: answers like this were often right in testing, but not always. "
    "Check the quoted sentence.",
    "low": "Low confidence: the reader found a possible answer but is unsure. Read the quoted sentence "
    "and the sources before relying on it.",
}
NOT_FOUND_MEANING = (
    "The reader answers only when it is sure enough (Settings: How sure before answering). These passages came closest."
)
SOURCES_NOTE = "Best first, grouped by file. A click on a place opens the document there, highlighted."

# The threshold as a person chooses it: named levels, stricter from top to bottom. The default is the
# reader's own calibrated value; the stricter ones are where its labels say medium and high.
ALWAYS, RECOMMENDED, FAIRLY_SURE, SURE = (
    "Always answer, even a guess",
    "When it has a lead (recommended)",
    "Only when fairly sure",
    "Only when sure",
)
LEVELS = (ALWAYS, RECOMMENDED, FAIRLY_SURE, SURE)


def level_thresholds(calibrated: float, cutoffs: Mapping[str, float] | None = None) -> dict[str, float]:
    """The probability each named level answers from, for a reader abstaining below ``calibrated``:
    "fairly sure" and "sure" are where its answers are labelled medium and high (its measured
    cut-offs, else the labels' fallback rule of 20 and 400 times the threshold's odds)."""

    def from_odds(steps: float) -> float:
        return 1 / (1 + math.exp(-(log_odds(calibrated) + steps + 1e-9)))  # on the label's side of the step

    steps = {name: step for step, name in LOG_ODDS_STEPS}  # the labels' own fallback rule, one owner
    medium = (cutoffs or {}).get("medium", from_odds(steps["medium"]))
    high = (cutoffs or {}).get("high", from_odds(steps["high"]))
    medium = max(medium, calibrated)
    return {ALWAYS: 0.0, RECOMMENDED: calibrated, FAIRLY_SURE: medium, SURE: max(high, medium)}


def levels_note(name: str, thresholds: Mapping[str, float]) -> str:
    """The numbers behind the levels, for those who want them (secondary: shown small)."""
    numbers = ", ".join(f"{thresholds[level]:.2f}" for level in LEVELS)
    return f"For the {name}, these levels answer from a probability of {numbers}."


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
    answer's span when the excerpt holds it; ``location`` is where the excerpt starts (``page 2``,
    ``slide 3``, ``sheet Staff, row 4``...), None for plain text.
    """

    source: str
    start: int
    end: int
    text: str
    location: str | None = None
    mark: Span | None = None
    cut_before: bool = False
    cut_after: bool = False

    @property
    def span(self) -> Span:
        return Span(self.start, self.end)


CitedText = Callable[[str], str | None]  # a document's text, as the offsets index it
LocationOf = Callable[[str, int], str | None]  # (source, offset) -> ``page 2``, ``slide 3``... or None


def covering(item: Answer | Passage, cited_text: CitedText) -> tuple[str, int, bool]:
    """A text that holds ``item``, the document offset where it starts, and whether it is the whole
    document: the document's text when it still matches ``item`` there, else the passage's own."""
    full = cited_text(item.source)
    if full is not None and full[item.start : item.end] == item.text:
        return full, 0, True
    holder = item.passage if isinstance(item, Answer) and item.passage is not None else item
    return holder.text, holder.start, False


def excerpt(
    item: Answer | Passage,
    cited_text: CitedText,
    location_of: LocationOf,
    question: str = "",
    mark: Answer | None = None,
    shown: Collection[tuple[str, int, int]] = (),
) -> Excerpt | None:
    """The sentence holding ``mark``, else the passage's sentence closest to ``question``, skipping any
    ``(source, start, end)`` already ``shown`` (None when all are). It is cut from the document's text
    by offsets, never found again by searching for its words."""
    text, base, whole = covering(item, cited_text)
    candidates = [] if mark is None else [(mark.start - base, mark.end - base)]
    candidates += ranked_sentences(text, item.start - base, item.end - base, question)
    for i, (a, b) in enumerate(candidates):
        cut = sentence_around(text, a, b)
        start, end = base + cut.start, base + cut.end
        if (item.source, start, end) in shown:
            continue
        location = location_of(item.source, start) or located(item)
        if location is None and whole and is_plain(item.source):  # a line means something only in a file as stored
            location = line_of(text, start)
        return Excerpt(
            source=item.source,
            start=start,
            end=end,
            text=text[cut.start : cut.end],
            location=location,
            mark=mark.span if mark is not None and i == 0 else None,
            cut_before=cut.cut_before or (not whole and cut.start == 0 and base > 0),
            cut_after=cut.cut_after or (not whole and cut.end == len(text)),
        )
    return None


def line_of(text: str, offset: int) -> str:
    """``line N``: where ``offset`` lies in a text without pages or headings, as an editor numbers lines."""
    return f"line {text.count(chr(10), 0, offset) + 1}"


def holds(passage: Passage, answer: Answer | None) -> bool:
    return answer is not None and answer.source == passage.source and passage.span.contains(answer.span)


def sources(result: Result, cited_text: CitedText, location_of: LocationOf) -> list[Excerpt]:
    """An excerpt per retrieved passage, best first: the answer's sentence, marked, where the passage
    holds the answer, else its sentence closest to the question; never the same sentence twice
    (neighbouring passages overlap), so a passage with nothing new is left out."""
    shown: list[Excerpt] = []
    for p in result.passages:
        mark = result.answer if holds(p, result.answer) else None
        ex = excerpt(p, cited_text, location_of, result.question, mark, {(e.source, e.start, e.end) for e in shown})
        if ex is not None:
            shown.append(ex)
    return shown


# --- the reply -------------------------------------------------------------------------------


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


def marked_html(ex: Excerpt) -> str:
    """The excerpt as HTML, its answer (if any) in ``<mark>``, "…" where it cuts a sentence."""
    if ex.mark is None:
        body = inline(ex.text)
    else:
        a, b = ex.mark.start - ex.start, ex.mark.end - ex.start
        body = f"{inline(ex.text[:a])}<mark>{inline(ex.text[a:b])}</mark>{inline(ex.text[b:])}"
    return ("… " if ex.cut_before else "") + body.strip() + (" …" if ex.cut_after else "")


def cite(source: str, location: str | None, start: int, end: int, text: str) -> str:
    """A link that opens the document at ``[start, end)``, named by file and location (``page 2``, ``slide 3``...)."""
    href = html.escape(document_href(source, start, end, text))
    return f'<a class="cite" href="{href}" target="_blank">{html.escape(citation(source, location))}</a>'


def source_item(ex: Excerpt) -> str:
    """One passage of a file's group: its place in the file (the link) and its sentence."""
    span = ex.mark or ex.span
    text = ex.text[span.start - ex.start : span.end - ex.start]
    href = html.escape(document_href(ex.source, span.start, span.end, text))
    where = html.escape(ex.location or "open the document")
    title = html.escape(citation(ex.source, ex.location))
    link = f'<a class="cite" href="{href}" target="_blank" title="{title}">{where}</a>'
    return f'<li>{link}<div class="excerpt">{marked_html(ex)}</div></li>'


def by_file(shown: Sequence[Excerpt]) -> dict[str, list[Excerpt]]:
    """The excerpts grouped by file, the files in the order of their best passage."""
    groups: dict[str, list[Excerpt]] = {}
    for ex in shown:
        groups.setdefault(ex.source, []).append(ex)
    return groups


def sources_block(shown: Sequence[Excerpt], title: str, note: str) -> str:
    """The sources under a reply, collapsed: each file named once, then its passages (best first),
    each with its place in the file (page, slide, row, section or line) and its sentence."""
    groups = by_file(shown)
    files = "".join(
        f'<li class="file"><span class="file-name">{html.escape(source)}</span>'
        f"<ol>{''.join(source_item(ex) for ex in items)}</ol></li>"
        for source, items in groups.items()
    )
    in_files = f" in {len(groups)} files" if len(groups) > 1 else ""
    return (
        f'<details class="sources"><summary>{html.escape(title)} ({len(shown)}{in_files})</summary>'
        f'<ul class="files">{files}</ul><p class="details">{html.escape(note)}</p></details>'
    )


@dataclass(frozen=True)
class Context:
    """What a reply says about its place in the conversation: how a follow-up was read (``read_as``),
    the file of the previous answer (to point out a change of file), a different answer that
    another file gives (``other``, with its sentence ``other_found``), and when the two files were
    last changed (``changed``: source -> modification time), since the dates are what tell a reader
    which of two versions of a fact is likely current."""

    read_as: str | None = None
    previous_source: str | None = None
    other: Answer | None = None
    other_found: Excerpt | None = None
    changed: Mapping[str, float] = field(default_factory=dict)


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip  # not strftime's %B, which follows the server's locale


def changed_on(timestamp: float) -> str:
    """A file's modification time as people write a date, in the server's time zone: "changed 4 March 2024"."""
    day = datetime.fromtimestamp(timestamp)
    return f"changed {day.day} {MONTHS[day.month - 1]} {day.year}"


def dated(source: str, changed: Mapping[str, float]) -> str:
    """What follows a file's name in the note, ", changed 4 March 2024"; nothing when its date is not known."""
    return f", {changed_on(changed[source])}" if source in changed else ""


def same_answer(a: str, b: str) -> bool:
    """Whether two answers say the same thing, ignoring case, spacing and punctuation."""
    return word_text(a) == word_text(b)


def word_text(text: str) -> str:
    return " ".join(w.lower() for w in _WORD.findall(text))


def context_notes(answer: Answer, context: Context) -> str:
    """The lines under an answer about the conversation: how a follow-up was read, a change of file,
    and another file that disagrees (both answers' files, each with the date it was last changed)."""
    notes = f'<p class="read-as">Read as: {inline(context.read_as)}</p>' if context.read_as else ""
    if context.previous_source and context.previous_source != answer.source:
        notes += (
            f'<p class="switch">From a different file than the previous answer: '
            f"<b>{inline(answer.source)}</b> (before: {inline(context.previous_source)}).</p>"
        )
    other = context.other
    if other is not None and other.source != answer.source and not same_answer(other.text, answer.text):
        location = located(other) or (context.other_found.location if context.other_found else None)
        link = cite(other.source, location, other.start, other.end, other.text)
        notes += (
            f'<p class="disagree">⚠️ Another file says otherwise: <strong>{inline(other.text)}</strong> '
            f"({link}{dated(other.source, context.changed)}). This answer is from <b>{inline(answer.source)}</b>"
            f"{dated(answer.source, context.changed)}. Check which one is current.</p>"
        )
    return notes


COPY_BUTTON = '<button class="copy-answer" type="button" title="Copy the answer with its citation">Copy</button>'


def copy_text(answer: Answer, found: Excerpt | None, location: str | None) -> str:
    """What *Copy* puts on the clipboard, as plain text: the answer, the sentence it is copied from,
    and its citation (the file and the place in it, as the reply names them), so that a pasted answer
    still says where it is from:

        CoreWeave
        “CoreWeave is set to supply computing capacity to Google's cloud unit, …”
        — openai-google-cloud-partnership.txt, line 5
    """
    lines = [_SPACE.sub(" ", answer.text).strip()]
    if found is not None:
        sentence = _SPACE.sub(" ", found.text).strip()
        lines.append(f"“{'… ' if found.cut_before else ''}{sentence}{' …' if found.cut_after else ''}”")
    lines.append(f"— {citation(answer.source, location)}")
    return "\n".join(lines)


def copy_block(text: str) -> str:
    """The Copy button and the text it copies, kept in the reply (hidden) so the page's script needs no
    server call; line breaks as ``&#10;`` because a reply must hold none (``inline``)."""
    return f'<span class="copy-text">{html.escape(text).replace(chr(10), "&#10;")}</span>{COPY_BUTTON}'


def format_reply(
    result: Result,
    shown: Sequence[Excerpt],
    found: Excerpt | None,
    calibrated: float,
    used: float,
    seconds: float,
    cutoffs: Mapping[str, float] | None = None,
    context: Context | None = None,
) -> str:
    """The chat reply as one HTML block: the answer, the sentence it is copied from with the answer
    marked, its confidence label, a link to the document and the time taken, then the sources
    (collapsed). An abstention says so and still lists the closest passages.

    ``calibrated`` is the reader's own threshold and ``cutoffs`` its measured label cut-offs (the
    labels' reference), ``used`` the threshold applied (kept for callers; no number is shown).
    """
    answer = result.answer
    context = context or Context()
    took = f'<span class="took">{seconds:.1f} s</span>'
    read_as = f'<p class="read-as">Read as: {inline(context.read_as)}</p>' if context.read_as else ""
    if answer is None:
        meta = " · ".join(m for m in ["The closest passages are listed below." if shown else "", took] if m)
        head = f'<p class="answer abstained">{NOT_FOUND}</p>{read_as}<p class="meta">{meta}</p>'
        return f'<div class="reply">{head}{sources_block(shown, "Closest passages", NOT_FOUND_MEANING)}</div>'
    label = confidence(answer.score, calibrated, cutoffs)
    location = located(answer) or (found.location if found is not None else None)
    meta = " · ".join(
        [
            f'<span class="confidence {label}" title="{html.escape(LABEL_MEANING[label])}">{label} confidence</span>',
            f"from {cite(answer.source, location, answer.start, answer.end, answer.text)}",
            took,
            copy_block(copy_text(answer, found, location)),
        ]
    )
    head = f'<p class="answer"><strong>{inline(answer.text)}</strong></p>'
    if found is not None:
        head += f'<blockquote class="quote">{marked_html(found)}</blockquote>'
    head += f'<p class="meta">{meta}</p>{context_notes(answer, context)}'
    block = sources_block(shown, "Sources", SOURCES_NOTE) if shown else ""
    return f'<div class="reply">{head}{block}</div>'
