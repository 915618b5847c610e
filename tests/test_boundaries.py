"""Answer boundaries in technical text: whole e-mail addresses, URLs, paths, flags, versions; one line."""

from __future__ import annotations

import pytest

from rag.reader.boundaries import heading_like, one_line, whole_tokens
from rag.reader.decoding import Candidate, Decoding
from rag.types import Passage

TEXT = (
    "Report bugs to help-libtasn1@gnu.org. The cache is /usr/share/mime/mime.cache, see "
    "https://www.gnu.org/software/x.html. Use -b, --benchmark or --level=3 with version 3.0.1 now."
)


def widened(text: str, part: str) -> str:
    i = text.index(part)
    a, b = whole_tokens(text, i, i + len(part))
    assert part.lstrip("⟨<") in text[a:b]  # widened (only a lone opening bracket is dropped)
    return text[a:b]


@pytest.mark.parametrize(
    "part, whole",
    [
        ("help", "help-libtasn1@gnu.org"),
        ("libtasn1@gnu", "help-libtasn1@gnu.org"),
        ("cache,", "/usr/share/mime/mime.cache,"),
        ("www.gnu", "https://www.gnu.org/software/x.html"),
        ("bench", "--benchmark"),
        ("level", "--level=3"),
        ("3.0", "3.0.1"),
    ],
)
def test_a_span_never_cuts_an_address_path_flag_or_version(part, whole):
    assert widened(TEXT, part) == whole


@pytest.mark.parametrize("part", ["mime.cache", "/usr/share", "Report bugs", "-b", "3.0.1", "help-libtasn1@gnu.org"])
def test_whole_tokens_and_path_segments_are_left_alone(part):
    assert widened(TEXT, part) == part


def test_sentence_punctuation_after_a_token_is_not_part_of_it():
    text = "Write to bug@example.org."
    assert widened(text, "bug") == "bug@example.org"


def cut(text: str, part: str) -> str:
    i = text.index(part)
    a, b = one_line(text, i, i + len(part))
    return text[a:b]


def test_a_heading_and_the_line_after_it_are_not_one_answer():
    assert cut("3.1 Invoking certtool\ncerttool reads a template.", "3.1 Invoking certtool\ncerttool") == "certtool"


def test_an_answer_does_not_run_into_the_next_heading_or_list_item():
    assert cut("Meet at Lot A.\nRetreat\nWe leave at nine.", "Lot A.\nRetreat") == "Lot A."
    options = "Options:\n  -v  be verbose\n  -q  be quiet"
    assert cut(options, "be verbose\n  -q") == "be verbose"
    assert cut("First paragraph ends here\n\nSecond one.", "here\n\nSecond") == "here"


def test_a_soft_wrap_inside_a_sentence_is_kept():
    text = "The reader keeps an answer that runs over a soft\nwrap inside one sentence of a paragraph."
    assert cut(text, "soft\nwrap") == "soft\nwrap"


def test_heading_like_lines():
    assert heading_like("3.1 Invoking certtool") and heading_like("Retreat")
    assert not heading_like("this continues a sentence") and not heading_like("It ends here.")
    assert not heading_like("- a list item") and not heading_like("A line " + "word " * 12)


def test_decoding_applies_the_rules_and_can_turn_them_off():
    p = Passage("manual.txt", 0, len(TEXT), TEXT, 1.0)
    start = TEXT.index("help")
    c = Candidate(0, start, start + 4, 3.0)
    on = Decoding().rank("Where do bugs go?", [p], [c], lambda _: ())[0]
    off = Decoding(boundaries=False).rank("Where do bugs go?", [p], [c], lambda _: ())[0]
    assert TEXT[on.start : on.end] == "help-libtasn1@gnu.org" and TEXT[off.start : off.end] == "help"
    assert Decoding.from_settings({"decoding": {"boundaries": False}}) == Decoding(boundaries=False)


@pytest.mark.parametrize(
    "part, whole",
    [("⟨", "https://debbugs.gnu.org/grep"), ("<", "bug@gnu.org"), ("2010-0001", "CVE-2010-0001"), ("UTF", "UTF-8")],
)
def test_a_lone_bracket_becomes_its_token_and_identifiers_stay_whole(part, whole):
    text = "Report at ⟨https://debbugs.gnu.org/grep⟩ or <bug@gnu.org>. See CVE-2010-0001 (fixed) in UTF-8 text."
    assert widened(text, part) == whole


def test_an_unclosed_opening_bracket_is_dropped_from_the_start():
    text = "Report at ⟨https://debbugs.gnu.org/grep⟩ and (fixed) it."
    i = text.index("⟨")
    assert text[slice(*whole_tokens(text, i, text.index("⟩")))] == "https://debbugs.gnu.org/grep"
    j = text.index("(fixed)")
    assert text[slice(*whole_tokens(text, j, j + 7))] == "(fixed)"


def test_a_narrow_column_wraps_softly_even_between_capitalised_lines():
    column = "The fund was set up by\nthe Kellerman\nTrust in 1990 and\nKellerman Foundation\nTrust officers run it."
    assert cut(column, "Kellerman\nTrust") == "Kellerman\nTrust"
    assert cut(column, "Kellerman Foundation\nTrust") == "Kellerman Foundation\nTrust"
