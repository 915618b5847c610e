"""Widened reading context: still an exact slice of the document, word-aligned, merged without overlap."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.chunking.chunker import ChunkConfig, iter_chunks
from rag.retrieval.context import Neighbours, merge, widen
from rag.types import Document, Passage

from .test_chunking import texts

CONFIG = ChunkConfig(size=12, overlap=3)
TEXT = (
    "OpenAI signed a deal with Google Cloud in May 2025. CoreWeave, a GPU cloud from New Jersey, "
    "supplies the computing capacity — 日本語のテキスト too. The capacity is resold to OpenAI. "
    "Microsoft's Azure was its main provider before. Oracle and SoftBank joined the Stargate project."
)


def passages_of(doc, chunks) -> list[Passage]:
    return [Passage(doc.source, c.start, c.end, c.text, float(i)) for i, c in enumerate(chunks)]


def test_widened_passages_slice_exactly_and_hold_the_original():
    doc = Document("deal.txt", TEXT)
    chunks = list(iter_chunks(doc, CONFIG))
    assert len(chunks) > 4
    neighbours = Neighbours.of(chunks)
    for p in passages_of(doc, chunks):
        (w,) = widen([p], neighbours, 40)
        assert TEXT[w.start : w.end] == w.text
        assert w.start <= p.start and p.end <= w.end
        assert p.start - w.start <= 40 and w.end - p.end <= 40
        assert w.start == 0 or TEXT[w.start - 1].isspace()  # begins at a word
        assert w.end == len(TEXT) or TEXT[w.end].isspace() or not TEXT[w.end - 1].isalnum()
        assert w.score == p.score


def test_middle_passage_grows_both_ways_and_zero_chars_reads_as_retrieved():
    doc = Document("deal.txt", TEXT)
    chunks = list(iter_chunks(doc, CONFIG))
    neighbours = Neighbours.of(chunks)
    middle = passages_of(doc, chunks)[len(chunks) // 2]
    (w,) = widen([middle], neighbours, 30)
    assert w.start < middle.start and w.end > middle.end
    assert widen([middle], neighbours, 0) == [middle]


def test_neighbouring_passages_merge_into_one_read():
    doc = Document("deal.txt", TEXT)
    chunks = list(iter_chunks(doc, CONFIG))
    ps = passages_of(doc, chunks)
    merged = widen([ps[3], ps[1], ps[2]], Neighbours.of(chunks), 20)
    assert len(merged) == 1
    (m,) = merged
    assert TEXT[m.start : m.end] == m.text and m.start <= ps[1].start and m.end >= ps[3].end
    assert m.score == 3.0  # the best member's


def test_passages_of_different_documents_never_merge():
    a = Passage("a.txt", 0, 5, "hello", 1.0)
    b = Passage("b.txt", 0, 5, "hello", 0.5)
    assert merge([a, b]) == [a, b]
    assert merge([a, Passage("a.txt", 5, 11, " world", 0.2)]) == [Passage("a.txt", 0, 11, "hello world", 1.0)]


def test_unknown_source_reads_as_retrieved():
    p = Passage("gone.txt", 10, 15, "words", 1.0)
    assert widen([p], Neighbours.of([]), 100) == [p]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, chars=st.integers(min_value=1, max_value=80), picks=st.lists(st.integers(0, 50), max_size=6))
def test_widening_any_text_keeps_the_offsets_invariant(text, chars, picks):
    doc = Document("any.txt", text)
    chunks = list(iter_chunks(doc, CONFIG))
    if not chunks:
        return
    ps = passages_of(doc, [chunks[i % len(chunks)] for i in picks])
    out = widen(ps, Neighbours.of(chunks), chars)
    for w in out:
        assert text[w.start : w.end] == w.text
    for p in ps:
        assert any(w.start <= p.start and p.end <= w.end for w in out)
    spans = sorted((w.start, w.end) for w in out)
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))  # merged: no overlap, no touching


def test_pipeline_reads_widened_passages_but_cites_the_retrieved_ones(seed_pipeline):
    from dataclasses import replace

    from rag.documents.folder import file_text
    from rag.pipeline import Pipeline

    from .conftest import SEEDS

    question = "who supplies GPUs in the deal?"
    retrieved = seed_pipeline.retrieve(question, 2)
    wider = Pipeline(  # the same index and models, settings that read 300 characters either side
        replace(seed_pipeline.settings, read_context=300), embedder=seed_pipeline.embedder, reader=seed_pipeline.reader
    )
    wider.refresh()
    reading = wider.reading(retrieved)
    result = wider.answer(question, retrieved)
    text = file_text(SEEDS, retrieved[0].source)
    assert all(text[p.start : p.end] == p.text for p in reading)
    assert sum(p.end - p.start for p in reading) > sum(p.end - p.start for p in retrieved)
    assert all(any(w.span.contains(p.span) for w in reading) for p in retrieved)
    assert result.passages == tuple(retrieved)
    answer = result.candidate
    assert answer is not None and text[answer.start : answer.end] == answer.text
    assert answer.passage is not None and answer.passage in reading
    assert seed_pipeline.reading(retrieved) == retrieved  # 0 reads them as retrieved
