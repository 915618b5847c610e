"""Where an answer may begin and end in technical text: whole tokens, one line.

A span model trained on Wikipedia prose learns word boundaries, not the boundaries of an e-mail
address, a URL, a path, a file name, an option flag or a version number: it answers "help" for
``help-libtasn1@gnu.org`` or "cache" for ``mime.cache``. And in manuals and PDFs a line break is a
strong boundary: "3.1 Invoking X\\nX" is a heading glued to the line after it. These rules are
applied to every candidate span, whatever model produced it:

- ``whole_tokens``: a span that cuts such a token (or an identifier such as ``CVE-2010-0001``) is
  widened to the whole token; a span that is only the bracket around one (``<`` of ``<URL>``) becomes
  the token, and an unclosed opening bracket at a span's start is dropped;
- ``one_line``: a span that crosses a hard line break (after a heading-like line, before one, at a
  blank line or a list item) keeps the piece on the answer's side of the break.
"""

from __future__ import annotations

import re

# Technical tokens a span must never cut. Order matters only for readability: overlaps merge.
TECHNICAL = re.compile(
    r"""
      (?:https?|ftp|file)://[^\s<>"'()\[\]{}\u27e8\u27e9\u2039\u203a\u00ab\u00bb]+            # URL
    | [\w.+-]+@[\w-]+(?:\.[\w-]+)+                       # e-mail address
    | (?<![\w/.])(?:~|\.{1,2})?/[\w.+@%-]+(?:/[\w.+@%-]*)*  # absolute or relative path
    | (?<![\w-])--?[A-Za-z0-9][\w-]*(?:=[^\s,;]+)?       # option flag (-b, --benchmark, --x=y)
    | [\w+-]+(?:\.[\w+-]+)+                              # file name, version number, domain
    | \b[A-Z][A-Za-z]*-\d[\w-]*                          # identifier: CVE-2010-0001, ISO-8859-1, UTF-8
    """,
    re.VERBOSE,
)
TRAILING = ".,;:!?"  # sentence punctuation after a token is not part of it
OPENING = "<([{\u27e8\u2039\u00ab\"'"  # brackets and quotes a token may sit in: <URL>, \u27e8URL\u27e9
HEADING_MAX_WORDS = 8
HEADING_MAX_CHARS = 60
HEADING_SHORTER = 0.6  # a heading among body lines is at most this share of the longer neighbour
SECTION_NUMBER = re.compile(r"\s*(?:\d+\.)*\d+\.?\s+\S")
LIST_ITEM = re.compile(r"\s*(?:[-*\u2022]\s|\d+[.)]\s|--?\w|[A-Z][\w .()/-]{0,30}:\s)")  # or a "Field: value" line


def technical_tokens(text: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """(start, end) of the technical tokens of ``text`` that overlap ``[lo, hi)``."""
    out = []
    start = max(0, lo - 200)
    for m in TECHNICAL.finditer(text, start, min(len(text), hi + 200)):
        a, b = m.start(), m.end()
        while b > a and text[b - 1] in TRAILING:
            b -= 1
        if a < hi and lo < b and b - a > 1:
            out.append((a, b))
    return out


def bracket_to_token(text: str, start: int, end: int) -> tuple[int, int]:
    """A span that is only the opening bracket or quote of a technical token (``<`` of
    ``<https://...>``) becomes the token; an opening bracket left unclosed at a span's start is
    dropped."""
    if text[start:end].strip() and all(ch in OPENING or ch.isspace() for ch in text[start:end]):
        tokens = [(a, b) for a, b in technical_tokens(text, end, end + 1) if a == end]
        if tokens:
            return tokens[0]
    while end - start > 1 and text[start] in OPENING[:-2] and closing(text[start]) not in text[start:end]:
        start += 1
    return start, end


def closing(bracket: str) -> str:
    return {"<": ">", "(": ")", "[": "]", "{": "}", "\u27e8": "\u27e9", "\u2039": "\u203a", "\u00ab": "\u00bb"}[bracket]


def whole_tokens(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` widened so that it cuts no e-mail address, URL, path, file name, option
    flag or version number of ``text``. A ``/`` is a boundary inside a path or URL: the file name
    ``mime.cache`` of ``/usr/share/mime/mime.cache`` may be the answer on its own."""
    start, end = bracket_to_token(text, start, end)
    for a, b in technical_tokens(text, start, end):
        segments = "://" not in text[a:b]  # a path's segments, never a URL's
        if a < start < b and not (segments and text[start - 1] == "/"):
            start = a
        if a < end < b and not (segments and text[end] == "/"):
            end = b
    return start, end


def line_bounds(text: str, pos: int) -> tuple[int, int]:
    """``[lo, hi)`` of the whole line of ``text`` that holds position ``pos`` (no line break)."""
    hi = text.find("\n", pos)
    return text.rfind("\n", 0, pos) + 1, len(text) if hi < 0 else hi


def heading_like(line: str) -> bool:
    """A short line that starts like a title and does not end a sentence or a clause: a heading,
    a title, a label (a line that starts in lower case continues a sentence)."""
    line = line.strip()
    return (
        bool(line)
        and not line[0].islower()
        and not LIST_ITEM.match(line)
        and len(line) <= HEADING_MAX_CHARS
        and len(line.split()) <= HEADING_MAX_WORDS
        and line[-1] not in ".,;:!?-"
    )


def is_heading(text: str, pos: int) -> bool:
    """Whether the line holding ``pos`` is a heading *in its place*: heading-like, and numbered
    ("3.1 Invoking X"), or first in its block (start of text or after a blank line), or clearly
    shorter than the lines around it. Narrow columns and OCR text wrap every few words, so a short
    line alone is not a heading."""
    lo, hi = line_bounds(text, pos)
    line = text[lo:hi]
    if not heading_like(line):
        return False
    if SECTION_NUMBER.match(line):
        return True
    prev = text[line_bounds(text, lo - 1)[0] : lo - 1] if lo > 0 else ""
    nxt = text[hi + 1 : line_bounds(text, hi + 1)[1]] if hi < len(text) else ""
    if not prev.strip():
        return True
    return len(line.strip()) <= HEADING_SHORTER * max(len(prev.strip()), len(nxt.strip()))


def one_line(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` cut at each hard line break it crosses, keeping the piece the answer is in:
    the part before a list item, a blank line or a heading (the answer ran on into it), else the
    part after a heading (a heading glued to its first line). A soft wrap inside a sentence, or in a
    narrow column, is left alone."""
    pos = start
    while (nl := text.find("\n", pos, end)) >= 0:
        nxt = nl + 1
        while nxt < end and text[nxt].isspace():
            nxt += 1
        if nxt >= end:  # only space after the break
            return start, nl
        if not text[start:nl].strip():  # only space before it
            start = pos = nxt
            continue
        after = text[nl + 1 : line_bounds(text, nl + 1)[1]]
        if not after.strip() or LIST_ITEM.match(after) or is_heading(text, nl + 1):
            return start, len(text[:nl].rstrip())
        if is_heading(text, nl - 1):
            start = pos = nxt
        else:
            pos = nl + 1
    return start, end
