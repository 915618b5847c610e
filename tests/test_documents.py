from pathlib import Path

import pytest

from rag.documents.folder import check_docs_dir, content_spans, decode, file_text, is_chrome
from rag.errors import UsageError

from .conftest import SEED_FILE, SEEDS


def test_seed_chrome_lines_are_left_out_and_content_kept():
    text = (SEEDS / SEED_FILE).read_text(encoding="utf-8")
    content = [text[s.start : s.end] for s in content_spans(text)]
    joined = "\n".join(content)
    for chrome in ("Thread Author", "\nBack", "\nTop"):
        assert chrome not in joined
    assert content[0].startswith("The image features a digital tunnel")  # image description is content
    assert any(c.startswith("Source: India TV News") for c in content)
    assert "CoreWeave is set to supply computing capacity" in joined


@pytest.mark.parametrize("line", ["• Thread Author", "Back", "  Top  ", "\u00a0", "", "Back to top", "- Reply"])
def test_chrome_lines(line):
    assert is_chrome(line)


@pytest.mark.parametrize(
    "line", ["Conclusion", "Top executives met in May.", "Source: Reuters", "The Partnership Details"]
)
def test_content_lines(line):
    assert not is_chrome(line)


def test_content_spans_keep_offsets_with_crlf_and_multibyte():
    text = "• Thread Author\r\nCafé 日本 déjà vu.\r\n\r\nBack\r\n  Second  para 🎉\r\nTop"
    spans = content_spans(text)
    assert [text[s.start : s.end] for s in spans] == ["Café 日本 déjà vu.", "Second  para 🎉"]


def test_decode_refuses_binary_and_reads_other_encodings():
    with pytest.raises(ValueError, match="binary"):
        decode(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(ValueError, match="not UTF-8 .* nor any other text encoding"):
        decode(bytes(range(0x80, 0x100)) * 3)
    assert decode("café".encode("latin-1")) == "café"  # the detector (tests/test_encodings.py)
    assert decode("naïve".encode()) == "naïve"


def test_unreadable_files_are_skipped_with_a_warning_and_the_rest_indexed(tmp_path: Path, embedder, capsys):
    from rag.index.build import update_index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Title\nSome text.", encoding="utf-8")
    (docs / "latin.txt").write_bytes("café crème".encode("latin-1"))  # read: windows-1252
    (docs / "garbled.txt").write_bytes(bytes(range(0x80, 0x100)) * 3)
    (docs / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (docs / "ignored.png").write_bytes(b"\x89PNG")
    (docs / "truncated.pdf").write_bytes(b"%PDF")
    index, report = update_index(docs, tmp_path / "index", embedder)
    assert sorted({c.source for c in index.chunks}) == ["good.md", "latin.txt"]
    assert set(report.skipped) == {"garbled.txt", "blob.txt", "truncated.pdf"}
    err = capsys.readouterr().err
    assert "garbled.txt" in err and "blob.txt" in err and "truncated.pdf" in err
    assert index.kept_text("latin.txt") == file_text(docs, "latin.txt") == "café crème"


def test_missing_or_empty_docs_folder_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="not found"):
        check_docs_dir(tmp_path / "nope")
    with pytest.raises(UsageError, match="no documents"):
        check_docs_dir(tmp_path)
