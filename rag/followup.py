"""Follow-up questions: "and who is in it?" after "How much is Stargate worth?" is searched with the
conversation's subject ("Stargate"), because alone it names nothing retrieval could find.

Deliberately simple and visible: only a short question that leans on the previous one (it starts
with "and" / "what about", or refers back with "it", "they", "that"...) is read in context, the
subject is the previous question's names (else its content words), and the reply says how the
question was read, so a wrong guess is plain to see.

It lives in ``rag`` (not ``ui``) because the chat, ``rag.ask`` (a ``history`` on a stdin JSON line,
or ``--after``) and ``eval/followups.py`` must read a follow-up the same way; ``ui.followup``
re-exports it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Reading:
    """How a question is searched: ``search`` is what retrieval looks for, ``subject`` the words
    carried over from the conversation (empty: the question is read alone), ``shown`` the line the
    reply gives ("and who is in it? (about Stargate)")."""

    question: str
    search: str
    subject: tuple[str, ...] = ()

    @property
    def shown(self) -> str | None:
        return None if not self.subject else f"{self.question} (about {' '.join(self.subject)})"


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
    return Reading(question, f"{question} {' '.join(carried)}", carried)


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
