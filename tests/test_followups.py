"""The follow-up set (eval/followups.jsonl) and the reading that rag.ask, the chat and eval share."""

import json

from rag.config import MAX_QUESTION_CHARS
from rag.followup import READER_SEES_SUBJECT, fold, read, read_after, subject_after

from .conftest import ROOT, SEEDS

PAIRS = ROOT / "eval" / "followups.jsonl"


def test_the_follow_up_set_is_honest():
    """At least 20 pairs, gold copied exactly from the seed, none of eval/gold.jsonl's questions."""
    seed = "".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    gold = {json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").read_text().splitlines() if line}
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(pairs) >= 20 and len({p["id"] for p in pairs}) == len(pairs)
    for p in pairs:
        assert p["first"] not in gold and p["question"] not in gold
        assert all(a in seed for a in p["first_answers"] + p["answers"]), p["id"]
        assert p["unanswerable"] == (not p["answers"])


def test_read_after_carries_the_subject_as_the_chat_does():
    """The chat updates its subject after each question; read_after replays that over a history."""
    history = ["How much is Stargate worth?", "and who is in it?"]
    subject: tuple[str, ...] = ()
    for question in history:
        subject = subject_after(read(question, subject))
    assert read_after("when was that?", history) == read("when was that?", subject)
    assert read_after("when was that?", history).search == "when was that? Stargate"
    assert read_after("and who is in it?").search == "and who is in it?"  # no history: read alone
    assert read_after("What is the capital of France?", history).subject == ()


def test_the_reader_reads_a_follow_up_with_its_subject_folded_in():
    """The word that points back becomes the subject, so the reader is not left with a bare "it"; the
    reply shows that question, and any other question is read and shown as typed."""
    assert fold("and who is in it?", ("Stargate",)) == "Who is in Stargate?"
    assert fold("Who are its rivals there?", ("Google", "Cloud")) == "Who are Google Cloud's rivals there?"
    assert fold("Despite that, what did they enter into?", ("OpenAI",)) == "Despite that, what did OpenAI enter into?"
    assert fold("When was that deal finalized?", ("OpenAI",)) == "When was OpenAI deal finalized?"
    assert fold("And for Stargate?", ("CoreWeave",)) == "For Stargate? (about CoreWeave)"  # nothing points back
    assert fold("what about it?", ("Stargate",)) == "what about Stargate?"  # "what about" frames: it stays
    assert fold("and it?", ("x" * MAX_QUESTION_CHARS,)) is None  # too long to be a question: read as typed
    follow = read_after("and who is in it?", ["How much is Stargate worth?"])
    assert follow.folded == "Who is in Stargate?" and follow.search == "and who is in it? Stargate"
    assert READER_SEES_SUBJECT  # measured by eval/measure_followups.py: eval/RESULTS.md, "Follow-up questions"
    assert follow.for_reader == follow.shown == "Who is in Stargate?"
    alone = read_after("What is the capital of France?", ["How much is Stargate worth?"])
    assert alone.folded is None and alone.for_reader == "What is the capital of France?" and alone.shown is None
