from pathlib import Path

import pytest

from rag.documents.folder import content_spans, decode, is_chrome, load_documents, text_of
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


def test_load_documents_skips_bad_files_with_a_warning(tmp_path: Path, capsys):
    (tmp_path / "good.md").write_text("# Title\nSome text.", encoding="utf-8")
    (tmp_path / "latin.txt").write_bytes("café crème".encode("latin-1"))  # read: windows-1252
    (tmp_path / "garbled.txt").write_bytes(bytes(range(0x80, 0x100)) * 3)
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "ignored.png").write_bytes(b"\x89PNG")
    (tmp_path / "truncated.pdf").write_bytes(b"%PDF")
    docs, skipped = load_documents(tmp_path)
    assert [d.source for d in docs] == ["good.md", "latin.txt"]
    assert {s.source for s in skipped} == {"garbled.txt", "blob.txt", "truncated.pdf"}
    err = capsys.readouterr().err
    assert "garbled.txt" in err and "blob.txt" in err and "truncated.pdf" in err
    assert text_of(tmp_path, "good.md") == docs[0].text


def test_missing_or_empty_docs_folder_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="not found"):
        load_documents(tmp_path / "nope")
    with pytest.raises(UsageError, match="no documents"):
        load_documents(tmp_path)
