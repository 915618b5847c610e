"""The Documents panel and *Search in*: the list of documents, adding, removing and replacing one,
and the files a question is searched in.

The list is the same in every tab: each re-reads it every few seconds and updates only on a
change. The work itself (safe names, size and kind checks, indexing as a transaction) is
``ui.core.Assistant``'s; this module lays the panel out, turns each outcome into the one message the
panel shows, and deletes Gradio's temporary copy of every upload once it is used.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ui.core import Assistant
from ui.text import DocumentError, count, md_escape
from ui.uploads import KINDS, LIMIT, not_done, too_large

DOCS_REFRESH_S = 5  # how often a tab re-reads the document list, so every tab shows the same one
CONFIRM_REMOVE_JS = "(source) => source && confirm(`Remove ${source}? It will no longer be searched.`) ? source : null"

log = logging.getLogger(__name__)


def documents_markdown(names: list[str]) -> str:
    """The document list as the panel shows it: how many, then each name."""
    return f"**{count(len(names), 'document')}**\n\n" + "\n".join(f"- {md_escape(n)}" for n in names)


def discard_upload(path: Path, uploads_dir: Path | None) -> None:
    """Delete Gradio's temporary copy of an upload (and its folder, if now empty) once it is used;
    never anything outside the upload folder."""
    if uploads_dir is None or path.is_symlink() or not path.resolve().is_relative_to(uploads_dir.resolve()):
        return
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        if path.parent.resolve() != uploads_dir.resolve():
            path.parent.rmdir()


def search_in_box() -> gr.Dropdown:
    """*Search in*: all documents, unless some are chosen; its choices follow the document list."""
    return gr.Dropdown(
        [],
        value=[],
        multiselect=True,
        allow_custom_value=True,  # a file removed meanwhile is dropped, not an error
        label="Search in",
        info="All documents, unless you choose some here.",
        elem_id="search-in",
    )


@dataclass(frozen=True)
class DocumentsParts:
    """The Documents panel's components."""

    docs: gr.Markdown
    chooser: gr.Dropdown
    remove: gr.Button
    replace: gr.UploadButton
    upload: gr.File
    status: gr.Markdown
    too_big: gr.Textbox


class DocumentActions:
    """What the panel's controls do, each returning the panel's new state: a message in the user's
    words and, after any change, the list, the chooser and *Search in*'s choices."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant

    def listed(self, known: list[str] | None = None) -> list[Any]:
        """The document list and chooser, or skips when ``known`` is already the list."""
        names = self.assistant.documents()
        if names == known:
            return [gr.skip()] * 4
        return [documents_markdown(names), gr.update(choices=names), names, gr.update(choices=names)]

    def add_document(self, path: str | None) -> list[Any]:
        """Add an uploaded file to the documents and index it; the upload box is emptied."""
        if not path:
            return [None, "", *self.listed()]
        name = Path(path).name
        try:
            message = self.assistant.add_document(Path(path))
        except DocumentError as exc:  # refused, or the index could not take it: the file was deleted again
            message = not_done("added", name, str(exc))
        except Exception as exc:  # the saved file was deleted again
            log.exception("adding %s failed", path)
            message = not_done("added", name, str(exc))
        finally:
            discard_upload(Path(path), self.assistant.uploads_dir)
        return [None, message, *self.listed()]

    def remove_document(self, source: str | None) -> list[Any]:
        """Remove the chosen document (once the page's confirmation said yes) and re-index."""
        if not source:  # none chosen, or the removal not confirmed
            return [gr.skip()] * 4
        try:
            message = self.assistant.remove_document(source)
        except DocumentError as exc:
            message = not_done("removed", source, str(exc))
        except Exception as exc:  # the file was put back
            log.exception("removing %s failed", source)
            message = not_done("removed", source, str(exc))
        names = self.assistant.documents()
        return [
            message,
            documents_markdown(names),
            gr.update(choices=names, value=None),
            names,
            gr.update(choices=names),
        ]

    def replace_document(self, path: str | None, source: str | None) -> list[Any]:
        """Replace the chosen document with an uploaded file of the same kind, and re-index."""
        if not path:
            return [None, *[gr.skip()] * 5]
        try:
            if not source:
                raise DocumentError("choose the document to replace first")
            message = self.assistant.replace_document(source, Path(path))
        except DocumentError as exc:
            message = not_done("replaced", source or "", str(exc))
        except Exception as exc:  # the old file was put back
            log.exception("replacing %s failed", source)
            message = not_done("replaced", source or "", str(exc))
        finally:
            discard_upload(Path(path), self.assistant.uploads_dir)
        return [None, message, *self.listed()]

    @staticmethod
    def refuse_large(payload: str) -> Any:
        """The page refused a file over the size limit before uploading it: say so, in the one message."""
        try:
            info = json.loads(payload)
            name, size, action = str(info["name"]), int(info["size"]), str(info.get("action"))
        except (ValueError, KeyError, TypeError):
            return gr.skip()
        return not_done("replaced" if action == "replace" else "added", name, too_large(size))

    @staticmethod
    def chosen_document(source: str | None) -> list[Any]:
        """*Remove* and *Replace* work only once a document is chosen."""
        return [gr.update(interactive=bool(source))] * 2


def documents_panel(demo: gr.Blocks, assistant: Assistant, search_in: gr.Dropdown) -> DocumentsParts:
    """The Documents accordion (open): the list, a chooser with *Remove* and *Replace*, the upload box
    with the kinds it takes, and the outcome of the last change; wired here, with the list's refresh
    on load and every few seconds, which also keeps *Search in*'s choices current."""
    with gr.Accordion("Documents", open=True, elem_id="documents-panel"):
        docs = gr.Markdown(elem_id="documents")
        chooser = gr.Dropdown([], value=None, label="Remove or replace a document", elem_id="chooser", interactive=True)
        with gr.Row():
            remove = gr.Button("Remove", size="sm", variant="stop", interactive=False, elem_id="remove")
            with gr.Column(min_width=0, elem_id="replace"):  # holds the button and its file input
                replace = gr.UploadButton(
                    "Replace with a new version", size="sm", interactive=False, elem_id="replace-button"
                )
        upload = gr.File(label=f"Add a document (up to {LIMIT})", height=150, elem_id="upload")
        gr.Markdown(f"Kinds: {KINDS}.", elem_id="upload-kinds")
        status = gr.Markdown(elem_id="upload-status")
    too_big = gr.Textbox(visible="hidden", elem_id="too-large")  # the page's size guard writes here
    timer = gr.Timer(DOCS_REFRESH_S)
    known = gr.State(None)  # the document list this tab shows

    actions = DocumentActions(assistant)
    shown = [docs, chooser, known, search_in]
    demo.load(actions.listed, None, shown, show_progress="hidden")
    timer.tick(actions.listed, known, shown, show_progress="hidden")
    upload.upload(actions.add_document, upload, [upload, status, *shown])
    replace.upload(actions.replace_document, [replace, chooser], [replace, status, *shown])
    remove.click(actions.remove_document, chooser, [status, *shown], js=CONFIRM_REMOVE_JS)
    chooser.change(actions.chosen_document, chooser, [remove, replace], queue=False, show_progress="hidden")
    too_big.change(actions.refuse_large, too_big, status, queue=False, show_progress="hidden")
    return DocumentsParts(docs, chooser, remove, replace, upload, status, too_big)
