"""The one interface every reader implements, so readers can be swapped and compared."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rag.types import Answer, Passage


class Reader(Protocol):
    """Picks the best answer span in a set of passages.

    ``read`` returns the best candidate whatever its score; the pipeline abstains when the
    score is below the threshold it applies (``threshold``, the reader's own calibrated value,
    unless the run asks for another), so callers can still inspect what was turned down.
    """

    name: str

    @property
    def threshold(self) -> float:
        """The reader's calibrated threshold: read-only, and what confidence labels are measured against."""
        ...

    def read(self, question: str, passages: Sequence[Passage]) -> Answer | None: ...
