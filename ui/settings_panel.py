"""The Settings panel (collapsed): how many passages to search, how sure the reader must be before it
answers (named levels, with the numbers behind them in small print), and which reader.

Every tab keeps its own choices. The recommended level is each reader's own calibrated threshold,
so a level stays as chosen when the reader changes and nothing on screen jumps; only the small
print follows the new reader.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ui.core import READER_INFO, Assistant, reader_label
from ui.reply import LEVELS, NOT_FOUND, RECOMMENDED, levels_note

MAX_PASSAGES = 10  # the most passages a question may search (and list as sources)


def reader_words(name: str) -> str:
    """A reader as a sentence names it: "trained reader"."""
    label = reader_label(name).split(" (")[0]
    return label[:1].lower() + label[1:]


@dataclass(frozen=True)
class SettingsParts:
    """The settings a question is asked with, for the chat to read."""

    k: gr.Slider
    level: gr.Radio
    levels_shown: gr.Markdown
    reader: gr.Dropdown


def settings_panel(assistant: Assistant, top_k: int, unavailable: dict[str, str] | None = None) -> SettingsParts:
    """The Settings accordion, collapsed, and its one event: a change of reader updates the numbers
    behind the levels. ``unavailable``: readers that did not load, and why (named in the reader's
    info line, so a missing choice is explained)."""
    default_reader = assistant.pipe.reader.name
    reader_info = "Which model picks the answer out of the passages. " + " ".join(
        READER_INFO[name] for name in assistant.readers if name in READER_INFO
    )
    if unavailable:
        reader_info += f" Not available: {', '.join(unavailable)} (see the server log)."
    with gr.Accordion("Settings", open=False, elem_id="settings"):
        k = gr.Slider(
            1,
            max(MAX_PASSAGES, top_k),  # a --top-k above the usual most stays choosable
            value=top_k,
            step=1,
            label="Passages to search",
            info="How many passages of your documents are read for an answer and listed as sources. "
            "More can find answers that are worded differently; fewer is faster.",
        )
        level = gr.Radio(
            list(LEVELS),
            value=RECOMMENDED,
            label="How sure before answering",
            info=f"From more answers (top) to stricter (bottom): stricter gives fewer wrong answers "
            f"and more '{NOT_FOUND}'",
            elem_id="threshold",
        )
        levels_shown = gr.Markdown(
            levels_note(reader_words(default_reader), assistant.levels(default_reader)), elem_id="levels-note"
        )
        reader = gr.Dropdown(
            [(reader_label(name), name) for name in assistant.readers],
            value=default_reader,
            label="Reader",
            interactive=len(assistant.readers) > 1,
            info=reader_info,
            elem_id="reader",
        )

    def reader_changed(name: str) -> str:
        """The numbers behind the levels for the new reader; the level chosen stays as it is (the
        recommended one is each reader's own calibrated value, so nothing on screen jumps)."""
        return levels_note(reader_words(name), assistant.levels(name))

    reader.change(reader_changed, reader, levels_shown, queue=False, show_progress="hidden")
    return SettingsParts(k, level, levels_shown, reader)
