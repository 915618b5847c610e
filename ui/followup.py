"""The chat's follow-up reading; it lives in ``rag.followup`` so that ``rag ask`` and
``eval/measure_followups.py`` read a follow-up exactly as the chat does."""

from rag.followup import (
    BACK_REFERENCES,
    LEAD_INS,
    MAX_FOLLOW_UP_WORDS,
    QUESTION_WORDS,
    READER_SEES_SUBJECT,
    Reading,
    fold,
    leans_on_previous,
    read,
    read_after,
    subject_after,
    subject_of,
    words,
)

__all__ = [
    "BACK_REFERENCES",
    "LEAD_INS",
    "MAX_FOLLOW_UP_WORDS",
    "QUESTION_WORDS",
    "READER_SEES_SUBJECT",
    "Reading",
    "fold",
    "leans_on_previous",
    "read",
    "read_after",
    "subject_after",
    "subject_of",
    "words",
]
