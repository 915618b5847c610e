"""Follow-up questions: "and who is in it?" after "How much is Stargate worth?" is searched with the
conversation's subject ("Stargate"), because alone it names nothing retrieval could find.

Deliberately simple and visible: only a short question that leans on the previous one (it starts
with "and" / "what about", or refers back with "it", "they", "that"...) is read in context, the
subject is the previous question's names (else its content words), and the reply says how the
question was read, so a wrong guess is plain to see.

Retrieval gets the question with the subject's words added (``Reading.search``). The reader may get
the subject too, folded into the question where the question points back ("and who is in it?" ->
"Who is in Stargate?", ``Reading.folded``): ``READER_SEES_SUBJECT`` says whether it does, set by
what ``eval/measure_followups.py`` measured (eval/RESULTS.md, "Follow-up questions").

It lives in ``rag`` (not ``ui``) because the chat, ``rag.ask`` (a ``history`` on a stdin JSON line,
or ``--after``) and ``eval/measure_followups.py`` must read a follow-up the same way; ``ui.followup``
re-exports it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rag.config import MAX_QUESTION_CHARS

MAX_FOLLOW_UP_WORDS = 8  # longer questions usually say what they are about
_WORD = re.compile(r"[\w'’-]+")
LEAD_INS = ("and ", "what about ", "how about ", "also ", "so ")
BACK_REFERENCES = frozenset(
    "it its it's that this those these they them their theirs he him his she her there then".split()
)
QUESTION_WORDS = frozenset(
    "who whom whose what when where which why how is are was were do does did can could will would should "
    "has have had the a an of in on at to for by with from and or but about much many there it its this "
    "that these those they them their be been being".split()
)
# Folding the subject in: the first word that points back is replaced by the subject, a pronoun
# before a possessive before a demonstrative ("Despite that, what did they enter into?" replaces
# "they"); a question with none of them gets "(about ...)" after it. "there" and "then" point back
# too, but to a place or a time the subject's words do not name, so they are left alone.
PRONOUNS = {"it": "{}", "they": "{}", "them": "{}", "he": "{}", "him": "{}", "she": "{}", "it's": "{} is"}
POSSESSIVES = {"its": "{}'s", "their": "{}'s", "theirs": "{}'s", "his": "{}'s", "her": "{}'s"}
DEMONSTRATIVES = {"that": "{}", "this": "{}", "these": "{}", "those": "{}"}
DROPPED_LEAD_INS = ("and ", "also ", "so ")  # "what about" / "how about" stay: they frame the question
READER_SEES_SUBJECT = True  # measured: eval/RESULTS.md, "Follow-up questions"


@dataclass(frozen=True)
class Reading:
    """How a question is searched and read: ``search`` is what retrieval looks for, ``subject`` the
    words carried over from the conversation (empty: the question is read alone), ``folded`` the
    question with the subject in it ("Who is in Stargate?"; None when read alone).

    ``for_reader`` is the question the reader must read and ``shown`` the line the reply gives, so
    the chat, ``rag.ask`` and the evaluation cannot differ on either."""

    question: str
    search: str
    subject: tuple[str, ...] = ()
    folded: str | None = None

    @property
    def for_reader(self) -> str:
        """The question the reader reads: the folded one where the reader sees the subject."""
        return self.folded if READER_SEES_SUBJECT and self.folded else self.question

    @property
    def shown(self) -> str | None:
        """How the reply says the question was read (None: read as typed)."""
        if not self.subject:
            return None
        if READER_SEES_SUBJECT and self.folded:
            return self.folded
        return f"{self.question} (about {' '.join(self.subject)})"


def words(text: str) -> list[str]:
    """The words of ``text``, a possessive's "'s" dropped ("Google's" -> "Google")."""
    return [re.sub(r"['’]s$", "", w) for w in _WORD.findall(text)]


def leans_on_previous(question: str) -> bool:
    """Whether ``question`` is a short one that refers back: "and who is in it?", "when was that?"."""
    found = words(question)
    if not found or len(found) > MAX_FOLLOW_UP_WORDS:
        return False
    lowered = question.strip().lower()
    return lowered.startswith(LEAD_INS) or any(w.lower() in BACK_REFERENCES for w in found)


def subject_of(question: str) -> tuple[str, ...]:
    """The words that say what ``question`` is about: its names (capitalised words past the first),
    else its content words."""
    found = words(question)
    content = [w for w in found if w.lower() not in QUESTION_WORDS and len(w) > 2]
    names = [w for i, w in enumerate(found) if i > 0 and w[:1].isupper() and w.lower() not in QUESTION_WORDS]
    return tuple(dict.fromkeys(names or content))


def fold(question: str, subject: tuple[str, ...]) -> str | None:
    """``question`` with ``subject`` in place of the word that points back to it, as a person would
    say it in full: "and who is in it?" -> "Who is in Stargate?", "Who are its rivals there?" ->
    "Who are Google Cloud's rivals there?". A leading "and" goes; with no such word the subject is
    added after the question ("When? (about Stargate)"). None when the fold would be too long for a
    question: the reader then reads the question as typed."""
    name = " ".join(subject)
    lowered = question.lower()
    for lead in DROPPED_LEAD_INS:
        if lowered.startswith(lead) and len(question) > len(lead):
            question = question[len(lead) :].lstrip()
            question = question[:1].upper() + question[1:]
            break
    found = list(_WORD.finditer(question))
    folded = f"{question} (about {name})"
    for kind in (PRONOUNS, POSSESSIVES, DEMONSTRATIVES):
        hit = next((m for m in found if m.group().lower().replace("’", "'") in kind), None)
        if hit is not None:
            said = kind[hit.group().lower().replace("’", "'")].format(name)
            said = said[:1].upper() + said[1:] if hit.start() == 0 else said
            folded = question[: hit.start()] + said + question[hit.end() :]
            break
    return folded if len(folded) <= MAX_QUESTION_CHARS else None


def read(question: str, subject: tuple[str, ...] = ()) -> Reading:
    """How to search ``question`` in a conversation about ``subject`` (``subject_after`` the previous
    question): a follow-up carries the subject's words it does not already name; any other question
    is read alone."""
    question = question.strip()
    if not subject or not leans_on_previous(question):
        return Reading(question, question)
    own = {w.lower() for w in words(question)}
    carried = tuple(w for w in subject if w.lower() not in own)
    if not carried:
        return Reading(question, question)
    return Reading(question, f"{question} {' '.join(carried)}", carried, fold(question, carried))


def subject_after(reading: Reading) -> tuple[str, ...]:
    """The conversation's subject once ``reading`` was asked: a follow-up keeps the one it carried,
    any other question sets its own."""
    return reading.subject or subject_of(reading.question)


def read_after(question: str, history: Iterable[str] = ()) -> Reading:
    """How ``question`` is searched after the earlier questions ``history`` (oldest first): the
    subject is carried from question to question exactly as the chat carries it, so a batch line
    with a history, the chat and the follow-up evaluation read a question the same way."""
    subject: tuple[str, ...] = ()
    for earlier in history:
        subject = subject_after(read(earlier, subject))
    return read(question, subject)
