"""Every chunk is the exact substring at its offsets, chunks cover the content, overlap holds."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.chunking.chunker import ChunkConfig, _is_word_start, iter_chunks, token_boundaries, token_windows
from rag.documents.folder import content_spans
from rag.types import Chunk, Document

from .conftest import SEED_FILE, SEEDS


def chunks_of(source: str, text: str, config: ChunkConfig | None = None) -> list[Chunk]:
    """All chunks of a text held in memory, as ``file_chunks`` cuts a file of that text."""
    return list(iter_chunks(Document(source, text), config))


WORDS = [
    "the",
    "GPU",
    "naïve",
    "日本語",
    "テキスト",
    "🎉",
    "emoji🙂",
    "Ünïcödé",
    "a",
    "x" * 30,
    "CoreWeave,",
    "(reuters.com)",
]
SEPARATORS = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", ". ", "! ", "?\n", "\n\n", "\u2028", " — "]

texts = st.lists(
    st.one_of(st.sampled_from(WORDS), st.sampled_from(SEPARATORS), st.text(min_size=1, max_size=6)),
    min_size=0,
    max_size=400,
).map("".join)
configs = st.integers(8, 64).flatmap(lambda n: st.builds(ChunkConfig, size=st.just(n), overlap=st.integers(0, n // 2)))


def covered(chunks) -> set[int]:
    return {i for c in chunks for i in range(c.start, c.end)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, config=configs)
def test_chunks_are_exact_cover_content_and_respect_size(text, config):
    chunks = chunks_of("doc.txt", text, config)
    content = content_spans(text)
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.text and not c.text[0].isspace() and not c.text[-1].isspace()
        assert any(s.start <= c.start and c.end <= s.end for s in content)
        assert c.n_tokens <= config.size or len(c.text) == 1
    needed = {i for s in content for i in range(s.start, s.end) if not text[i].isspace()}
    assert needed <= covered(chunks)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


@settings(max_examples=300, deadline=None)
@given(text=texts, config=configs)
def test_overlap_is_as_configured_and_starts_on_a_word(text, config):
    cuts = token_boundaries(text)
    assert cuts[0] == 0 and cuts[-1] == len(text)
    windows = token_windows(text, cuts, config)
    for (a1, b1), (a2, _) in zip(windows, windows[1:]):
        if not text[cuts[a1] : cuts[b1]].strip():
            continue  # a window of only whitespace yields no chunk, so it owes no overlap
        assert a1 < a2 <= b1  # always moves on, never leaves a gap
        # at least the configured overlap, in tokens, unless the chunk is so short that the
        # only character boundary that far back is its own start (then it must move on)
        if b1 - a2 < config.overlap:
            assert all(cuts[j] < 0 for j in range(a1 + 1, b1 - config.overlap + 1))
        # ... and no more than needed to reach the start of the word it falls in
        for j in range(a2 + 1, b1 - config.overlap + 1):
            assert cuts[j] < 0 or not _is_word_start(text, cuts[j])
        assert cuts[a2] >= 0


def test_multibyte_character_split_across_tokens_is_never_cut():
    text = "🎉" * 200 + " 日本語のテキスト" * 50
    chunks = chunks_of("d.txt", text, ChunkConfig(size=9, overlap=2))
    covered = set()
    for c in chunks:
        assert text[c.start : c.end] == c.text and c.n_tokens <= 9
        covered.update(range(c.start, c.end))
    # every non-space character is in some chunk: no emoji was dropped at a cut between its tokens
    assert {i for i, ch in enumerate(text) if not ch.isspace()} <= covered


FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # man ZWJ woman ZWJ girl: one grapheme cluster


@pytest.mark.parametrize(
    "text",
    [
        "A story.\n\n" + FAMILY * 300 + " the end.",  # issue #21: chunks began after a ZWJ
        "Flags " + "\U0001f1eb\U0001f1f7\U0001f1e9\U0001f1ea" * 100,  # a flag is two regional indicators
        "Cafe" + "\u0301" * 40 + " noir " * 20,  # a letter with many accents
    ],
)
def test_chunks_never_cut_a_grapheme_cluster(text):
    import regex

    clusters = {m.start() for m in regex.finditer(r"\X", text)} | {len(text)}
    chunks = chunks_of("d.txt", text, ChunkConfig(size=9, overlap=2))
    assert len(chunks) > 3
    for c in chunks:
        assert text[c.start : c.end] == c.text and c.start in clusters and c.end in clusters, (c.start, c.end)


def test_seed_document_chunks():
    text = (SEEDS / SEED_FILE).read_text(encoding="utf-8")
    chunks = chunks_of(SEED_FILE, text)
    assert len(chunks) >= 5
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert "Thread Author" not in c.text and not c.text.endswith("Top")
    ends_on_sentence = sum(c.text.endswith((".", ")")) for c in chunks)
    assert ends_on_sentence >= len(chunks) - 2


def test_blocks_cover_the_text_and_cut_after_a_line_break():
    from rag.chunking.chunker import text_blocks

    text = "".join(f"line {i} ünïcode 🙂 text.\n" if i % 7 else f"a sentence {i}. and more " for i in range(3000))
    position = 0

    def read(n: int) -> str:
        nonlocal position
        position += n
        return text[position - n : position]

    blocks = list(text_blocks(read, size=1000))
    assert "".join(b for _, b in blocks) == text
    assert all(text[start : start + len(b)] == b for start, b in blocks)
    assert all(500 <= len(b) <= 1000 and b.endswith(("\n", ". ", " ")) for _, b in blocks[:-1])


def test_a_large_file_is_chunked_a_block_at_a_time_as_the_same_text_in_memory(tmp_path):
    from rag.chunking.chunker import BLOCK_CHARS, file_chunks

    line = "Ein Satz mit Umlauten: äöü, CJK 漢字 and 🙂 emoji.\r\n"
    text = "\ufeff" + line * (int(2.2 * BLOCK_CHARS) // len(line)) + "no line break at the end"
    path = tmp_path / "big.txt"
    path.write_bytes(text.encode("utf-8"))
    kept, chunks = file_chunks("big.txt", path, ChunkConfig(64, 8))
    streamed = list(chunks)
    assert kept is None
    assert streamed == chunks_of("big.txt", text, ChunkConfig(64, 8))
    assert all(text[c.start : c.end] == c.text for c in streamed)
    assert streamed[-1].text.endswith("no line break at the end") and streamed[0].start == 1  # BOM left out
