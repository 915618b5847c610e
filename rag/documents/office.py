"""PowerPoint (.pptx) slides and speaker notes as text, read by python-pptx, each cited by its slide.

A slide's text is its shapes' text in the slide's own order (groups opened, a table a line per row,
cells split by `` | `` as in HTML); its notes follow as a part of their own, labelled ``slide N, notes``.
python-pptx parses every XML part into a tree and loads every part, so the whole file is first
walked within the archive bounds (``archive.check_archive``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

from rag.documents.archive import check_archive, damaged
from rag.documents.parts import Parts, TooMuchText, one_line
from rag.types import Extracted

KIND = ".pptx"
CELL_SEPARATOR = " | "


def shape_texts(shapes: Iterable[Any]) -> Iterator[str]:
    """The text of each shape, in order; a group's shapes in its place (a stack: no recursion)."""
    stack = [iter(shapes)]
    while stack:
        shape = next(stack[-1], None)
        if shape is None:
            stack.pop()
        elif hasattr(shape, "shapes"):  # a group shape
            stack.append(iter(shape.shapes))
        elif getattr(shape, "has_table", False):
            yield "\n".join(CELL_SEPARATOR.join(one_line(c.text) for c in row.cells) for row in shape.table.rows)
        elif shape.has_text_frame:
            yield shape.text_frame.text


def pptx_text(data: bytes) -> Extracted:
    """Each slide's text, then its notes, a blank line between parts; ``slide N`` (``slide N, notes``)
    is where each starts. Slides without text add nothing but keep their number."""
    check_archive(data, KIND)
    from pptx import Presentation

    parts = Parts("presentation")
    try:
        for n, slide in enumerate(Presentation(io.BytesIO(data)).slides, 1):
            parts.add("\n".join(shape_texts(slide.shapes)), f"slide {n}")
            notes = slide.notes_slide.notes_text_frame if slide.has_notes_slide else None
            if notes is not None:
                parts.add(notes.text, f"slide {n}, notes")
    except TooMuchText:
        raise
    except Exception as exc:  # python-pptx and lxml raise many kinds of errors on damaged files
        raise damaged(KIND, exc) from None
    return parts.extracted("the presentation has no text")
