"""Token-bounded chunks with exact character offsets.

Each content span of a document is tokenised with tiktoken (cl100k). A chunk holds at most
``size`` tokens and ends after a sentence where one falls in its second half (else between
words); the next chunk starts ``overlap`` tokens before it ends, moved back to a word start.
Cuts only fall where the token stream is on a character boundary (cl100k may split one
multibyte character over several tokens), so every chunk is the exact substring
``text[start:end]`` of its document.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import regex
import tiktoken

from rag.config import CHUNK_OVERLAP, CHUNK_TOKENS, TOKENIZER, chunking_problem
from rag.documents.folder import content_spans
from rag.documents.formats import check_utf8_file, extract, is_plain
from rag.types import Chunk, Document, Extracted, Span

PIECE_CHARS = 200_000  # longest run of text tokenised at once (memory: tokens and cuts of one piece)
BLOCK_CHARS = 1 << 20  # text read and chunked at once (a file of any size is chunked a block at a time)
GRAPHEME = regex.compile(r"\X")
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)|\n")


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(TOKENIZER)


@dataclass(frozen=True)
class ChunkConfig:
    size: int = CHUNK_TOKENS
    overlap: int = CHUNK_OVERLAP

    def __post_init__(self) -> None:
        problem = chunking_problem(self.size, self.overlap)
        if problem:
            raise ValueError(problem)


def token_boundaries(text: str) -> list[int]:
    """Character offsets of the cut points between tokens of ``text``, from 0 to ``len(text)``.

    Entry ``i`` is where token ``i`` starts; a token that starts inside a multibyte character or
    inside a grapheme cluster (a ZWJ emoji, a flag, a letter and its accents) gets ``-1`` (no cut
    allowed before it): a chunk, and so a passage the reader reads, begins and ends on whole
    clusters, and an answer cannot start in the middle of one.
    """
    tokens = encoding().encode(text, disallowed_special=())
    char_at_byte: dict[int, int] = {}
    byte = 0
    for i, ch in enumerate(text):
        char_at_byte[byte] = i
        byte += len(ch.encode("utf-8"))
    char_at_byte[byte] = len(text)
    inside = cluster_interiors(text)
    cuts: list[int] = []
    byte = 0
    for token in tokens:
        at = char_at_byte.get(byte, -1)
        cuts.append(-1 if at in inside else at)
        byte += len(encoding().decode_single_token_bytes(token))
    cuts.append(len(text))
    return cuts


def cluster_interiors(text: str) -> set[int]:
    """Offsets strictly inside a grapheme cluster of ``text``, where no cut may fall; none for
    ASCII text without CR LF (every other character boundary there is a cluster boundary)."""
    if text.isascii() and "\r\n" not in text:
        return set()
    inside: set[int] = set()
    at = 0
    for cluster in GRAPHEME.findall(text):
        if len(cluster) > 1:
            inside.update(range(at + 1, at + len(cluster)))
        at += len(cluster)
    return inside


def sentence_ends(text: str) -> list[int]:
    """Character offsets just after each sentence end in ``text``."""
    return [m.end() for m in SENTENCE_END.finditer(text)]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _valid_cut_before(cuts: list[int], k: int) -> int:
    """The nearest token index ``<= k`` where a cut falls on a character boundary."""
    while k > 0 and cuts[k] < 0:
        k -= 1
    return k


def _choose_end(text: str, cuts: list[int], ends: list[int], start_tok: int, size: int) -> int:
    """Token index where a chunk starting at ``start_tok`` ends: a sentence end if possible."""
    last = len(cuts) - 1
    hard = min(start_tok + size, last)
    if hard == last:
        return last
    hard = _valid_cut_before(cuts, hard)
    if hard <= start_tok:  # a single character wider than the window: take it whole
        hard = start_tok + 1
        while hard < last and cuts[hard] < 0:
            hard += 1
        return hard
    lo_char, hi_char = max(cuts[start_tok : start_tok + max(1, (hard - start_tok) // 2) + 1]), cuts[hard]
    i = bisect.bisect_right(ends, hi_char) - 1
    if i >= 0 and ends[i] >= lo_char:
        for k in range(hard, start_tok, -1):  # the last token cut at or before that end
            if 0 <= cuts[k] <= ends[i]:
                return k
    word = _word_start_before(text, cuts, hard, start_tok + 1)
    return word if cuts[word] >= lo_char else hard


def _is_word_start(text: str, at: int) -> bool:
    return at <= 0 or at >= len(text) or text[at].isspace() or text[at - 1].isspace()


def _word_start_before(text: str, cuts: list[int], k: int, floor: int) -> int:
    """The nearest token index in ``[floor, k]`` cut on a character boundary between words,
    or the character-boundary cut nearest ``k`` when a long word fills the whole range."""
    for j in range(k, floor - 1, -1):
        if cuts[j] >= 0 and _is_word_start(text, cuts[j]):
            return j
    return _valid_cut_before(cuts, k)


def token_windows(piece: str, cuts: list[int], config: ChunkConfig) -> list[tuple[int, int]]:
    """The (first, last + 1) token indices of each chunk of ``piece``, in order."""
    ends = sentence_ends(piece)
    last = len(cuts) - 1
    windows: list[tuple[int, int]] = []
    start_tok = 0
    while start_tok < last:
        end_tok = _choose_end(piece, cuts, ends, start_tok, config.size)
        windows.append((start_tok, end_tok))
        if end_tok >= last:
            break
        nxt = _word_start_before(piece, cuts, end_tok - config.overlap, start_tok + 1)
        start_tok = max(nxt, start_tok + 1)
        while cuts[start_tok] < 0:
            start_tok += 1
    return windows


def chunk_span(text: str, span: Span, config: ChunkConfig) -> list[tuple[int, int, int]]:
    """Chunks of ``text[span.start:span.end]`` as (start, end, n_tokens) in document offsets."""
    piece = text[span.start : span.end]
    cuts = token_boundaries(piece)
    out = []
    for start_tok, end_tok in token_windows(piece, cuts, config):
        start, end = _trim(piece, cuts[start_tok], cuts[end_tok])
        if end > start:
            out.append((span.start + start, span.start + end, end_tok - start_tok))
    return out


def cut_after(window: str) -> int:
    """Where to end a run of text within ``window``: after its last line break, else its last sentence
    end, else its last space or tab; 0 when it has none of them."""
    cut = window.rfind("\n") + 1 or max((m.end() for m in SENTENCE_END.finditer(window)), default=0)
    return cut or (max(window.rfind(" "), window.rfind("\t")) + 1)


def pieces(text: str, span: Span, limit: int = PIECE_CHARS) -> Iterator[Span]:
    """``span`` cut into pieces of at most ``limit`` characters, each ending after a line break,
    else a sentence, else a space in its second half (a hard cut only in a very long word), so that
    tokenising one piece at a time keeps memory bounded however long a run of text is."""
    start = span.start
    while span.end - start > limit:
        cut = cut_after(text[start + limit // 2 : start + limit])
        end = start + limit // 2 + cut if cut else start + limit
        yield Span(start, end)
        start = end
    yield Span(start, span.end)


def text_blocks(read: Callable[[int], str], size: int = BLOCK_CHARS) -> Iterator[tuple[int, str]]:
    """Consecutive blocks of a text as (offset, block), read ``size`` characters at a time through
    ``read`` (a text file's ``read``), each cut where ``cut_after`` says in its second half.

    A file of any size is thus chunked holding one block; the cuts depend only on the text, so a
    file read from disk and the same text in memory give the same blocks."""
    base, buffer = 0, ""
    while True:
        if len(buffer) < size:
            buffer += read(size - len(buffer))
        if len(buffer) < size:  # the end of the text
            if buffer:
                yield base, buffer
            return
        cut = cut_after(buffer[size // 2 :])
        cut = size // 2 + cut if cut else size
        yield base, buffer[:cut]
        base, buffer = base + cut, buffer[cut:]


def chunk_blocks(source: str, blocks: Iterable[tuple[int, str]], config: ChunkConfig) -> Iterator[Chunk]:
    """The chunks of the content of each block (``content_spans``), with offsets in the whole text."""
    for base, block in blocks:
        for span in content_spans(block):
            for piece in pieces(block, span):
                for start, end, n_tokens in chunk_span(block, piece, config):
                    yield Chunk(source, base + start, base + end, block[start:end], n_tokens)


def iter_chunks(doc: Document, config: ChunkConfig | None = None) -> Iterator[Chunk]:
    """The chunks of one document's content, in order, a block of text at a time."""
    position = 0

    def read(n: int) -> str:
        nonlocal position
        position += n
        return doc.text[position - n : position]

    return chunk_blocks(doc.source, text_blocks(read), config or ChunkConfig())


def file_chunks(source: str, path: Path, config: ChunkConfig | None = None) -> tuple[Extracted | None, Iterator[Chunk]]:
    """The chunks of a file, and the text to keep in the index: the extracted text of .html, .pdf,
    .docx..., and the decoded text (with its encoding) of a .txt or .md that is not UTF-8.

    A UTF-8 .txt or .md file is checked, then read and chunked a block at a time: memory does not
    grow with its size. Other files are read whole (their formats bound their size). ValueError
    (with the reason) for a file that cannot be read as its kind."""
    config = config or ChunkConfig()
    if is_plain(source) and check_utf8_file(path):
        handle = open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed when the chunks are drawn

        def chunks() -> Iterator[Chunk]:
            with handle:
                yield from chunk_blocks(source, text_blocks(handle.read), config)

        return None, chunks()
    extracted = extract(source, path.read_bytes())
    doc = Document(source, extracted.text)
    kept = None if is_plain(source) and extracted.encoding in ("", "UTF-8") else extracted  # text not as stored: kept
    return kept, iter_chunks(doc, config)
