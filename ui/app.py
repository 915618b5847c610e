"""python -m ui.app: chat with your documents in the browser, every answer cited and highlighted.

Serves on 127.0.0.1 unless --host says otherwise, and makes no calls to the internet. The index
is built or updated and the models load once, at start-up; every browser session then has its own
chat and settings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import socket
import sys
import textwrap
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi.responses import HTMLResponse
from gradio.utils import get_upload_folder as gradio_upload_folder

from rag.cli import add_corpus_args, add_reader_model_arg, reader_from_args, run
from rag.config import MAX_QUESTION_CHARS, TOP_K
from rag.documents.folder import check_docs_dir
from rag.errors import RagError, UsageError
from rag.pipeline import Pipeline
from rag.reader import DEFAULT_READER, READERS
from ui import followup
from ui.core import READER_INFO, Assistant, load_readers, reader_label
from ui.document_view import DOCUMENT_HEADERS, FONT_FAMILY, FONT_FILES, document_page, document_span, problem_page
from ui.reply import LEVELS, NOT_FOUND, RECOMMENDED, SEARCHING, Context, levels_note
from ui.text import DocumentError, count, md_escape
from ui.uploads import KINDS, LIMIT, MAX_UPLOAD_BYTES, not_done, recover, too_large

EXAMPLES = (
    "who supplies GPUs in the deal?",
    "When did OpenAI finalize the agreement with Google's cloud division?",
    "What is the capital of France?",
)
MAX_PASSAGES = 10
DOCS_REFRESH_S = 5  # how often a tab re-reads the document list, so every tab shows the same one
CHAT_HEIGHT = "calc(100dvh - 240px)"  # the chat fills the window above the question box
CSS = """
#intro h1 { margin-bottom: 0.1rem; }
#intro p { margin-top: 0; }
.reply .answer { margin: 0 0 0.35rem; font-size: var(--text-lg); }
.reply .quote { margin: 0.35rem 0; padding: 0.1rem 0 0.1rem 0.75rem; border-left: 3px solid #f59e0b;
                font-style: normal; color: inherit; }
.reply mark { background: #fde68a; color: #000; font-weight: 700; padding: 0 2px; border-radius: 3px; }
.reply .meta { margin: 0.35rem 0 0; font-size: var(--text-sm); color: var(--body-text-color); }
.reply a.cite { color: var(--link-text-color); text-decoration: underline; font-weight: 700; }
.reply .read-as, .reply .switch, .reply .disagree { margin: 0.35rem 0 0; font-size: var(--text-sm);
                padding: 0.15rem 0.5rem; border-left: 3px solid; }
.reply .read-as { border-color: var(--border-color-primary); font-style: italic; }
.reply .switch { border-color: #2563eb; background: rgba(37, 99, 235, 0.08); }
.reply .disagree { border-color: #dc2626; background: rgba(220, 38, 38, 0.08); }
.reply .confidence { padding: 0 0.45em; border-radius: 999px; font-weight: 700; cursor: help; }
.reply .confidence.high { background: #dcfce7; color: #166534; }
.reply .confidence.medium { background: #fef3c7; color: #92400e; }
.reply .confidence.low { background: #fee2e2; color: #991b1b; }
.reply .sources { margin-top: 0.5rem; }
.reply .sources summary { cursor: pointer; font-weight: 700; font-size: var(--text-sm); }
.reply .sources ul.files { margin: 0.25rem 0 0; padding-left: 0; list-style: none; }
.reply .sources .file-name { font-weight: 700; font-size: var(--text-sm); }
.reply .sources ol { margin: 0.1rem 0 0.4rem; padding-left: 1.4rem; }
.reply .sources li { margin: 0.3rem 0; }
.reply .excerpt { font-size: var(--text-sm); }
.reply .details { margin: 0.25rem 0 0; font-size: var(--text-sm); color: var(--body-text-color); }
.reply .copy-text { display: none; }  /* what Copy puts on the clipboard (ui.reply.copy_text) */
.reply .copy-answer { font: inherit; font-weight: 700; color: var(--link-text-color); background: none;
                border: 1px solid var(--border-color-primary); border-radius: 999px; padding: 0 0.6em;
                cursor: pointer; }
#chat .top-panel { display: none; }  /* its floating buttons covered the top message; "New chat" clears */
.examples-label { flex-grow: 0 !important; min-width: 2.5em !important; }
#question-note:empty { display: none; }
#question-note p { margin: 0; color: var(--body-text-color); font-weight: 700; }
#levels-note p { margin: 0; font-size: var(--text-xs); color: var(--body-text-color); }
#upload-kinds p { margin: 0; font-size: var(--text-xs); color: var(--body-text-color); }
footer { display: none !important; }  /* Gradio's own links and developer settings: not for readers */
#intro .jump { display: none; }
@media (max-width: 640px) {  /* a phone: the chat, the question box and the examples on the first screen */
  #intro p { font-size: 0; margin: 0; }  /* the intro's sentence goes; its link to the side panel stays */
  #intro .jump { display: inline; font-size: var(--text-md); font-weight: 700; }
  #intro h1 { font-size: 1.35rem; margin: 0; }
  #chat { height: calc(100dvh - 420px) !important; min-height: 200px !important; }
  #ask-row { flex-wrap: wrap !important; gap: 0.5rem !important; }
  #ask-row > .form { flex: 1 1 100% !important; }
  #ask-row > button { flex: 1 1 40% !important; min-width: 0 !important; }
}
"""
# Files over the limit are refused in the page, before Gradio uploads them, with the server's own
# message (from ``ui.core.too_large``): one limit, one message. Gradio's server-side limit stays.
# A file input is emptied when opened, or the browser sends no event for the same file chosen twice.
SIZE_GUARD_JS = """
() => {
  const limit = MAX_UPLOAD_BYTES;
  const report = (target, file) => {
    const box = document.querySelector('#too-large textarea');
    if (!box) return;
    const action = target && target.closest && target.closest('#replace') ? 'replace' : 'add';
    box.value = JSON.stringify({name: file.name, size: file.size, action: action, at: Date.now()});
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  const guard = (event, files) => {
    const big = Array.from(files || []).find((f) => f.size > limit);
    if (!big) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (event.target instanceof HTMLInputElement) event.target.value = '';
    report(event.target, big);
  };
  for (const type of ['input', 'change']) {
    window.addEventListener(type, (e) => {
      if (e.target instanceof HTMLInputElement && e.target.type === 'file') guard(e, e.target.files);
    }, true);
  }
  window.addEventListener('drop', (e) => guard(e, e.dataTransfer && e.dataTransfer.files), true);
  window.addEventListener('click', (e) => {  // the same file chosen again must still be sent
    if (e.target instanceof HTMLInputElement && e.target.type === 'file') e.target.value = '';
  }, true);
}
""".replace("MAX_UPLOAD_BYTES", str(MAX_UPLOAD_BYTES))
# Copy: a click on a reply's Copy button puts its hidden copy text (the answer, its sentence and its
# citation, ``ui.reply.copy_text``) on the clipboard, and the button says "Copied" for a moment.
COPY_JS = """
  document.addEventListener('click', async (e) => {
    const button = e.target instanceof Element ? e.target.closest('.reply .copy-answer') : null;
    if (!button) return;
    e.preventDefault();
    const text = button.closest('.reply').querySelector('.copy-text').textContent;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch (err) {
      button.textContent = 'Copy failed';
    }
    setTimeout(() => { button.textContent = 'Copy'; }, 2000);
  }, true);
"""
PAGE_JS = SIZE_GUARD_JS.rstrip().removesuffix("}") + COPY_JS + "}"
HISTORY_KEY = "rag-chat"  # the browser storage key of the saved chat
MAX_SAVED_MESSAGES = 200  # the latest messages a reload brings back; older ones are not kept
CONFIRM_REMOVE_JS = "(source) => source && confirm(`Remove ${source}? It will no longer be searched.`) ? source : null"

log = logging.getLogger("ui.app")
Message = dict[str, Any]
Conversation = dict[str, Any]  # "subject": the words a follow-up carries; "source": the last answer's file
BUSY = "Still answering your previous question. This one stays in the box: press Enter again when the answer is in."


def too_long(question: str) -> str:
    """Why an over-long question is not sent (it stays in the box, to be shortened)."""
    return (
        f"This question is {len(question.strip()):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
        "Shorten it and ask again."
    )


def reader_words(name: str) -> str:
    """A reader as a sentence names it: "trained reader"."""
    label = reader_label(name).split(" (")[0]
    return label[:1].lower() + label[1:]


def session_of(request: gr.Request | None) -> str:
    """The browser session a request comes from (one chat per tab)."""
    return str(getattr(request, "session_hash", None) or "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ui.app",
        description=textwrap.fill(" ".join(__doc__.split(": ", 1)[1].split()), 100),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_corpus_args(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on (default: %(default)s)")
    parser.add_argument(
        "--top-k", type=int, default=TOP_K, metavar="N", help="passages to retrieve and show (default: %(default)s)"
    )
    parser.add_argument(
        "--reader", default=DEFAULT_READER, choices=READERS, help="default reader (default: %(default)s)"
    )
    parser.add_argument("--threshold", type=float, default=None, metavar="S", help="default abstention threshold")
    add_reader_model_arg(parser)
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    if not 1 <= args.top_k <= MAX_PASSAGES:
        raise UsageError(f"--top-k must be between 1 and {MAX_PASSAGES}")
    return args


def theme() -> gr.themes.Base:
    """Gradio's theme with one font family in every weight the page uses, served by the app itself
    (Gradio's default pulls no Google font, but its semibold file lacks most letters, so bold text
    fell back to another font)."""
    return gr.themes.Default(
        font=[gr.themes.LocalFont(FONT_FAMILY, weights=tuple(FONT_FILES)), "sans-serif"],
        font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "monospace"],
    )


def searching(message: Message) -> bool:
    return (message.get("metadata") or {}).get("title") == SEARCHING


def message_text(message: dict) -> str | None:
    """A kept chat message's text: Gradio hands a message's content back as a list of parts
    (``[{"type": "text", "text": ...}]``); None for anything else, which a restored chat leaves out."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        texts = [p.get("text") for p in content]
        return "".join(texts) if all(isinstance(t, str) for t in texts) else None
    return None


def documents_markdown(names: list[str]) -> str:
    return f"**{count(len(names), 'document')}**\n\n" + "\n".join(f"- {md_escape(n)}" for n in names)


def build(assistant: Assistant, top_k: int = TOP_K, unavailable: dict[str, str] | None = None) -> gr.Blocks:
    """The page: the chat on the left, each answer with its sources; settings and documents on the right."""
    default_reader = assistant.pipe.reader.name

    waiting: dict[str, str] = {}  # session -> the token of the question it waits for; New chat drops it

    def echo(
        question: str, history: list[Message], running: bool, conversation: Conversation, request: gr.Request
    ) -> list[Any]:
        """Show the question at once, with a "Searching your documents…" bubble, and disable Ask.

        While this session's previous question runs, or for an over-long question, nothing is echoed:
        a line under the box says why and the question stays in it. ``pending`` is left alone when busy
        (a queued ``respond`` reads it when it starts); the ``respond`` chained to this echo finds the
        question already taken (``waiting``) and does nothing."""
        if running or session_of(request) in waiting:  # the server's word too: two quick Enters race
            return [gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), BUSY]  # ``pending`` is the running one's
        if len(question.strip()) > MAX_QUESTION_CHARS:
            return [gr.skip(), gr.skip(), None, gr.skip(), gr.skip(), too_long(question)]
        history = list(history or [])
        if question.strip():
            history.append({"role": "user", "content": md_escape(question)})
        history.append({"role": "assistant", "content": "", "metadata": {"title": SEARCHING, "status": "pending"}})
        reading = followup.read(question, tuple((conversation or {}).get("subject", ())))
        token = uuid.uuid4().hex
        waiting[session_of(request)] = token
        pending = {"question": question, "token": token, "search": reading.search, "read_as": reading.shown}
        pending["ask"] = reading.for_reader  # a follow-up's reader sees its subject too ("Who is in Stargate?")
        pending["subject"] = list(followup.subject_after(reading))
        return [history, "", pending, True, gr.update(interactive=False), ""]

    def respond(
        pending: dict | None,
        history: list[Message],
        k: float,
        level: str,
        reader: str,
        search_in: list[str] | None,
        conversation: Conversation,
        request: gr.Request,
    ) -> list[Any]:
        """Replace the bubble with the answer (or why there is none) and the time taken; enable Ask.
        A question whose chat was cleared meanwhile (New chat) changes nothing."""
        if pending is None or waiting.get(session_of(request)) != pending.get("token"):
            return [gr.skip()] * 5  # nothing asked, or answered already, or New chat was pressed
        history = [m for m in history or [] if not searching(m)]
        conversation = dict(conversation or {})
        try:
            content, source = answer(pending, k, level, reader, search_in, conversation.get("source"))
        except RagError as exc:
            content, source = f"⚠️ {md_escape(str(exc))}", None
        except Exception as exc:
            log.exception("answering %r failed", pending.get("question"))
            content, source = f"⚠️ Something went wrong: {md_escape(str(exc))}", None
        if waiting.get(session_of(request)) != pending.get("token"):
            return [gr.skip()] * 5  # New chat was pressed: this answer belongs to a chat that is gone
        waiting.pop(session_of(request), None)
        conversation["subject"] = pending.get("subject", [])
        conversation["source"] = source or conversation.get("source")
        history.append({"role": "assistant", "content": content})
        return [history, None, False, gr.update(interactive=True), conversation]

    def answer(
        pending: dict, k: float, level: str, reader: str, search_in: list[str] | None, previous: str | None
    ) -> tuple[str, str | None]:
        """The reply to one question and the file its answer came from (None: no answer)."""
        question = pending.get("ask") or pending["question"]
        used = None if level not in LEVELS or level == RECOMMENDED else assistant.levels(reader)[level]
        started = time.perf_counter()
        result = assistant.ask(question, int(k), used, reader, chosen_sources(search_in), pending.get("search"))
        other = assistant.other_answer(result, used, reader)
        context = Context(read_as=pending.get("read_as"), previous_source=previous, other=other)
        content = assistant.reply(result, reader, used, time.perf_counter() - started, context)
        return content, None if result.answer is None else result.answer.source

    def chosen_sources(search_in: list[str] | None) -> list[str] | None:
        """The files ticked in "Search in" that still exist; None (all documents) when none is."""
        names = set(assistant.documents())
        chosen = [s for s in search_in or [] if s in names]
        return chosen or None

    def cleared(request: gr.Request) -> list[Any]:
        """An empty chat: every answer goes, with its sources; a question still running is cancelled,
        and its answer, should it come anyway, is dropped (``respond`` checks ``waiting``)."""
        waiting.pop(session_of(request), None)
        return [[], None, False, gr.update(interactive=True), {}, ""]

    def remember(history: list[Message], conversation: Conversation) -> dict:
        """What a reload brings back: the chat's finished messages (the latest ``MAX_SAVED_MESSAGES``)
        and its follow-up subject, kept in this browser's storage, never on the server."""
        finished = [m for m in history or [] if not searching(m)][-MAX_SAVED_MESSAGES:]
        return {"chat": finished, "conversation": dict(conversation or {})}

    def restore(kept: dict | None) -> list[Any]:
        """The chat this browser kept (``remember``), or nothing to change when it kept none or
        something unreadable (an old or tampered entry is ignored, never an error)."""
        if not isinstance(kept, dict) or not isinstance(kept.get("chat"), list):
            return [gr.skip(), gr.skip()]
        messages = [
            {"role": m["role"], "content": text}
            for m in kept["chat"]
            if isinstance(m, dict) and m.get("role") in ("user", "assistant") and (text := message_text(m)) is not None
        ]
        conversation = kept.get("conversation")
        return [messages, conversation if isinstance(conversation, dict) else {}]

    def listed(known: list[str] | None = None) -> list[Any]:
        """The document list and chooser, or skips when ``known`` is already the list."""
        names = assistant.documents()
        if names == known:
            return [gr.skip()] * 4
        return [documents_markdown(names), gr.update(choices=names), names, gr.update(choices=names)]

    def add_document(path: str | None) -> list[Any]:
        if not path:
            return [None, "", *listed()]
        name = Path(path).name
        try:
            message = assistant.add_document(Path(path))
        except DocumentError as exc:  # refused, or the index could not take it: the file was deleted again
            message = not_done("added", name, str(exc))
        except Exception as exc:  # the saved file was deleted again
            log.exception("adding %s failed", path)
            message = not_done("added", name, str(exc))
        finally:
            discard_upload(Path(path), assistant.uploads_dir)
        return [None, message, *listed()]

    def remove_document(source: str | None) -> list[Any]:
        if not source:  # none chosen, or the removal not confirmed
            return [gr.skip()] * 4
        try:
            message = assistant.remove_document(source)
        except DocumentError as exc:
            message = not_done("removed", source, str(exc))
        except Exception as exc:  # the file was put back
            log.exception("removing %s failed", source)
            message = not_done("removed", source, str(exc))
        names = assistant.documents()
        return [
            message,
            documents_markdown(names),
            gr.update(choices=names, value=None),
            names,
            gr.update(choices=names),
        ]

    def replace_document(path: str | None, source: str | None) -> list[Any]:
        if not path:
            return [None, *[gr.skip()] * 5]
        try:
            if not source:
                raise DocumentError("choose the document to replace first")
            message = assistant.replace_document(source, Path(path))
        except DocumentError as exc:
            message = not_done("replaced", source or "", str(exc))
        except Exception as exc:  # the old file was put back
            log.exception("replacing %s failed", source)
            message = not_done("replaced", source or "", str(exc))
        finally:
            discard_upload(Path(path), assistant.uploads_dir)
        return [None, message, *listed()]

    def refuse_large(payload: str) -> Any:
        """The page refused a file over the size limit before uploading it: say so, in the one message."""
        try:
            info = json.loads(payload)
            name, size, action = str(info["name"]), int(info["size"]), str(info.get("action"))
        except (ValueError, KeyError, TypeError):
            return gr.skip()
        return not_done("replaced" if action == "replace" else "added", name, too_large(size))

    def chosen_document(source: str | None) -> list[Any]:
        return [gr.update(interactive=bool(source))] * 2

    def reader_changed(name: str) -> str:
        """The numbers behind the levels for the new reader; the level chosen stays as it is (the
        recommended one is each reader's own calibrated value, so nothing on screen jumps)."""
        return levels_note(reader_words(name), assistant.levels(name))

    reader_info = "Which model picks the answer out of the passages. " + " ".join(
        READER_INFO[name] for name in assistant.readers if name in READER_INFO
    )
    if unavailable:
        reader_info += f" Not available: {', '.join(unavailable)} (see the server log)."
    with gr.Blocks(title="Ask your documents", analytics_enabled=False) as demo:
        gr.Markdown(
            "# Ask your documents\nAnswers are copied word for word from the documents in "
            f"*{md_escape(str(assistant.docs_dir))}*; each shows the sentence it comes from, "
            "and a click on its source opens the document there."
            '<a class="jump" href="#search-in">Documents and settings ↓</a>',
            elem_id="intro",
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chat = gr.Chatbot(
                    show_label=False,
                    height=CHAT_HEIGHT,
                    min_height=360,
                    buttons=[],
                    latex_delimiters=[],
                    feedback_options=None,
                    group_consecutive_messages=False,
                    placeholder="Ask a question: the answer comes with the sentence it is copied from.",
                    elem_id="chat",
                )
                with gr.Row(elem_id="ask-row"):
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="Type a question and press Enter",
                        scale=5,
                        elem_id="question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                    new_chat = gr.Button("New chat", variant="secondary", scale=1, elem_id="new-chat")
                note = gr.Markdown("", elem_id="question-note")
                with gr.Row():
                    gr.Markdown("Try:", elem_classes="examples-label")
                    examples = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
            with gr.Column(scale=1, min_width=300):
                search_in = gr.Dropdown(
                    [],
                    value=[],
                    multiselect=True,
                    allow_custom_value=True,  # a file removed meanwhile is dropped, not an error
                    label="Search in",
                    info="All documents, unless you choose some here.",
                    elem_id="search-in",
                )
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    k = gr.Slider(
                        1,
                        MAX_PASSAGES,
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
                        levels_note(reader_words(default_reader), assistant.levels(default_reader)),
                        elem_id="levels-note",
                    )
                    reader_choice = gr.Dropdown(
                        [(reader_label(name), name) for name in assistant.readers],
                        value=default_reader,
                        label="Reader",
                        interactive=len(assistant.readers) > 1,
                        info=reader_info,
                        elem_id="reader",
                    )
                with gr.Accordion("Documents", open=True, elem_id="documents-panel"):
                    docs = gr.Markdown(elem_id="documents")
                    chooser = gr.Dropdown(
                        [], value=None, label="Remove or replace a document", elem_id="chooser", interactive=True
                    )
                    with gr.Row():
                        remove = gr.Button("Remove", size="sm", variant="stop", interactive=False, elem_id="remove")
                        with gr.Column(min_width=0, elem_id="replace"):  # holds the button and its file input
                            replace = gr.UploadButton(
                                "Replace with a new version", size="sm", interactive=False, elem_id="replace-button"
                            )
                    upload = gr.File(label=f"Add a document (up to {LIMIT})", height=150, elem_id="upload")
                    gr.Markdown(f"Kinds: {KINDS}.", elem_id="upload-kinds")
                    status = gr.Markdown(elem_id="upload-status")
        too_big = gr.Textbox(visible="hidden", elem_id="too-large")
        timer = gr.Timer(DOCS_REFRESH_S)
        pending = gr.State(None)  # the question this session is waiting for
        running = gr.State(False)
        conversation = gr.State({})  # its subject (for follow-ups) and the file of its last answer
        saved = gr.BrowserState(None, storage_key=HISTORY_KEY)  # the chat, kept in this browser for a reload
        known = gr.State(None)  # the document list this tab shows

        answers = []
        for trigger, source in ((question.submit, question), (ask.click, question), *((b.click, b) for b in examples)):
            shown = trigger(
                echo,
                [source, chat, running, conversation],
                [chat, question, pending, running, ask, note],
                queue=False,
                show_progress="hidden",
            )
            answered = shown.then(
                respond,
                [pending, chat, k, level, reader_choice, search_in, conversation],
                [chat, pending, running, ask, conversation],
                show_progress="hidden",
            )
            answers.append(answered)
            answered.then(remember, [chat, conversation], saved, queue=False, show_progress="hidden")
        # The kept chat becomes an empty one, not None: Gradio writes no falsy value to browser storage,
        # so the old chat would come back on a reload.
        new_chat.click(
            cleared, None, [chat, pending, running, ask, conversation, note], cancels=answers, queue=False
        ).then(lambda: remember([], {}), None, saved, queue=False, show_progress="hidden")
        demo.load(restore, saved, [chat, conversation], show_progress="hidden")
        chat.change(lambda: "", None, note, queue=False, show_progress="hidden")  # a reply came: no busy note
        reader_choice.change(reader_changed, reader_choice, levels_shown, queue=False, show_progress="hidden")
        documents = [docs, chooser, known, search_in]
        demo.load(listed, None, documents, show_progress="hidden")
        timer.tick(listed, known, documents, show_progress="hidden")
        upload.upload(add_document, upload, [upload, status, *documents])
        replace.upload(replace_document, [replace, chooser], [replace, status, *documents])
        remove.click(remove_document, chooser, [status, *documents], js=CONFIRM_REMOVE_JS)
        chooser.change(chosen_document, chooser, [remove, replace], queue=False, show_progress="hidden")
        too_big.change(refuse_large, too_big, status, queue=False, show_progress="hidden")
    return demo


def document_view(assistant: Assistant) -> Callable[..., HTMLResponse]:
    """The document view's handler: one of the documents, whole, scrolled to the highlighted span."""

    def view(
        source: str = "", start: int | None = None, end: int | None = None, check: str | None = None
    ) -> HTMLResponse:
        try:
            doc = assistant.document(source)
        except DocumentError as exc:
            return HTMLResponse(problem_page(str(exc)), status_code=404, headers=DOCUMENT_HEADERS)
        span = document_span(doc, start, end, check)
        return HTMLResponse(document_page(source, doc, span, asked=start is not None), headers=DOCUMENT_HEADERS)

    return view


def discard_upload(path: Path, uploads_dir: Path | None) -> None:
    """Delete Gradio's temporary copy of an upload (and its folder, if now empty) once it is used;
    never anything outside the upload folder."""
    if uploads_dir is None or path.is_symlink() or not path.resolve().is_relative_to(uploads_dir.resolve()):
        return
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        if path.parent.resolve() != uploads_dir.resolve():
            path.parent.rmdir()


class QuietTracebacks:
    """Gradio's ``traceback`` module, but ``print_exc`` logs one line for a request refused before our
    handlers see it (``refused``); any other error keeps its traceback."""

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)

    @staticmethod
    def print_exc(*args: Any, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and refused(error):
            log.warning("refused a request: %s", " ".join(str(error).split())[:300])
        else:
            traceback.print_exc(*args, **kwargs)


def refused(error: BaseException) -> bool:
    """Whether Gradio refused a request's input (a value not among a dropdown's choices, a malformed
    payload, a file path it does not serve) rather than failed at something."""
    from gradio.exceptions import Error, InvalidPathError
    from pydantic import ValidationError

    return isinstance(error, (Error, InvalidPathError, ValidationError))


def quiet_refusals() -> None:
    """One log line, not a traceback, for each refused request: Gradio prints the traceback of every
    error in its queue and routes (``traceback.print_exc``), so a probe of the API filled the log."""
    import gradio.queueing
    import gradio.routes

    for module in (gradio.queueing, gradio.routes):
        if getattr(module, "traceback", None) is traceback:
            module.traceback = QuietTracebacks()  # type: ignore[assignment]


def check_port(host: str, port: int) -> None:
    """Fail before the models load when the address is taken."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    check_docs_dir(args.docs)
    check_port(args.host, args.port)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    quiet_refusals()
    for note in recover(args.docs):  # before the index is brought in step with the folder
        log.warning("%s", note)
    pipe = Pipeline(args.docs, args.index, top_k=args.top_k, reader=reader_from_args(args))
    pipe.refresh()
    readers, unavailable = load_readers(pipe)
    for name, why in unavailable.items():
        log.warning("the %s reader is unavailable: %s", name, why)
    assistant = Assistant(pipe, readers, uploads_dir=Path(gradio_upload_folder()))
    demo = build(assistant, args.top_k, unavailable)
    demo.queue()
    try:
        demo.launch(
            server_name=args.host,
            server_port=args.port,
            share=False,
            show_error=True,
            max_file_size=MAX_UPLOAD_BYTES,  # one limit: Gradio refuses larger files before they arrive
            theme=theme(),
            css=CSS,
            js=PAGE_JS,
            footer_links=[],  # no Gradio footer: its settings panel is for developers
            prevent_thread_lock=True,
        )
    except OSError as exc:
        raise RagError(f"cannot serve on {args.host}:{args.port}: {exc}") from None
    demo.app.add_api_route("/document", document_view(assistant), methods=["GET"])
    demo.block_thread()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Start the server; errors become one line on stderr and a non-zero exit code."""
    return run(_main, argv)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
