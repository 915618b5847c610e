"""The text the reader sees: each retrieved passage widened into the chunks around it.

Chunks are cut by token count, so the sentence that holds an answer can begin in the chunk
before or end in the chunk after. The reader therefore reads each passage with up to ``chars``
characters of the same document on either side, in whole words, taken from the stored
neighbouring chunks (so the text is still an exact slice of the document and no file is re-read),
and passages of one document that overlap or touch after widening are read once, merged.
Citations stay the retrieved chunks; an answer's ``passage`` is the widened text it was read from.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from rag.types import Chunk, Passage


@dataclass(frozen=True)
class Neighbours:
    """The chunks of each document in document order, to look up what lies around a passage."""

    by_source: dict[str, list[Chunk]]
    starts: dict[str, list[int]]

    @classmethod
    def of(cls, chunks: Sequence[Chunk]) -> Neighbours:
        by_source: dict[str, list[Chunk]] = {}
        for c in chunks:
            by_source.setdefault(c.source, []).append(c)
        for group in by_source.values():
            group.sort(key=lambda c: (c.start, c.end))
        return cls(by_source, {s: [c.start for c in group] for s, group in by_source.items()})

    def covering(self, source: str, offset: int, before: bool) -> Chunk | None:
        """The chunk reaching furthest past the character just before ``offset`` (``before``) or at it."""
        group = self.by_source.get(source, [])
        at = offset - 1 if before else offset
        i = bisect.bisect_right(self.starts.get(source, []), at)
        hits = [c for c in group[max(0, i - 4) : i] if c.start <= at < c.end]
        if not hits:
            return None
        return min(hits, key=lambda c: c.start) if before else max(hits, key=lambda c: c.end)


def extend_left(p: Passage, neighbours: Neighbours, chars: int) -> Passage:
    """``p`` grown leftwards by up to ``chars`` characters, starting at a word."""
    target, text, start = max(p.start - chars, 0), p.text, p.start
    while start > target:
        c = neighbours.covering(p.source, start, before=True)
        if c is None:
            break
        cut = max(target, c.start)
        text, start = c.text[cut - c.start : start - c.start] + text, cut
    added = len(text) - len(p.text)
    skip = 0
    if start == target and target > 0:  # cut mid-text: begin after the first whitespace of what was added
        skip = next((i for i in range(added) if text[i].isspace()), added)
    while skip < added and text[skip].isspace():
        skip += 1
    if skip == added:
        return p
    return Passage(p.source, start + skip, p.end, text[skip:], p.score, p.page, p.location)


def extend_right(p: Passage, neighbours: Neighbours, chars: int) -> Passage:
    """``p`` grown rightwards by up to ``chars`` characters, ending at a word."""
    target, text, end = p.end + chars, p.text, p.end
    while end < target:
        c = neighbours.covering(p.source, end, before=False)
        if c is None:
            break
        cut = min(target, c.end)
        text, end = text + c.text[end - c.start : cut - c.start], cut
    if end == p.end:
        return p
    keep = len(p.text)
    added = text[keep:]
    if end == target:  # cut mid-text: back off to the last whitespace of what was added
        space = max((i for i, ch in enumerate(added) if ch.isspace()), default=-1)
        added = added[: max(space, 0)]
    added = added.rstrip()
    return Passage(p.source, p.start, p.end + len(added), p.text + added, p.score, p.page, p.location)


def merge(passages: Sequence[Passage]) -> list[Passage]:
    """Overlapping or touching passages of one document joined, in the order of their best member."""
    out: list[Passage] = []
    for p in passages:
        for i, q in enumerate(out):
            if q.source == p.source and p.start <= q.end and q.start <= p.end:
                first, second = (q, p) if q.start <= p.start else (p, q)
                text = first.text + second.text[first.end - second.start :] if second.end > first.end else first.text
                end = max(first.end, second.end)
                out[i] = Passage(q.source, first.start, end, text, max(p.score, q.score), first.page, first.location)
                break
        else:
            out.append(p)
    return out if len(out) == len(passages) else merge(out)


def widen(passages: Sequence[Passage], neighbours: Neighbours, chars: int) -> list[Passage]:
    """What the reader should read for ``passages``: each widened by ``chars`` on both sides, then merged."""
    if chars <= 0:
        return list(passages)
    grown = [extend_right(extend_left(p, neighbours, chars), neighbours, chars) for p in passages]
    return merge(grown)
