"""The chat column: the conversation, the question box with *Ask* and *New chat*, the examples, and
what asking does.

A question is echoed at once with a *Searching your documents…* bubble (``Questions.echo``), then
answered from the one shared ``Assistant`` (``Questions.respond``). Each browser tab has its own
chat, follow-up subject and pending question (Gradio state), and its chat is kept in the browser's
own storage for a reload (``remember``/``restore``), never on the server. ``chat_column`` lays the
column out; ``wire_chat`` connects it, once the settings and *Search in* it reads exist.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from rag.config import MAX_QUESTION_CHARS
from rag.errors import RagError
from ui import followup
from ui.core import Assistant
from ui.reply import LEVELS, RECOMMENDED, SEARCHING, Context
from ui.settings_panel import SettingsParts
from ui.text import md_escape

EXAMPLES = (
    "who supplies GPUs in the deal?",
    "When did OpenAI finalize the agreement with Google's cloud division?",
    "What is the capital of France?",
)
CHAT_HEIGHT = "calc(100dvh - 240px)"  # the chat fills the window above the question box
HISTORY_KEY = "rag-chat"  # the browser storage key of the saved chat
MAX_SAVED_MESSAGES = 200  # the latest messages a reload brings back; older ones are not kept
BUSY = "Still answering your previous question. This one stays in the box: press Enter again when the answer is in."

log = logging.getLogger(__name__)
Message = dict[str, Any]
Conversation = dict[str, Any]  # "subject": the words a follow-up carries; "source": the last answer's file


def too_long(question: str) -> str:
    """Why an over-long question is not sent (it stays in the box, to be shortened)."""
    return (
        f"This question is {len(question.strip()):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
        "Shorten it and ask again."
    )


def session_of(request: gr.Request | None) -> str:
    """The browser session a request comes from (one chat per tab)."""
    return str(getattr(request, "session_hash", None) or "")


def searching(message: Message) -> bool:
    """Whether ``message`` is the *Searching your documents…* bubble of a question still running."""
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


@dataclass(frozen=True)
class ChatParts:
    """The chat column's components, for ``wire_chat``."""

    chat: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    new_chat: gr.Button
    note: gr.Markdown
    examples: tuple[gr.Button, ...]


def chat_column(examples: Sequence[str] = EXAMPLES) -> ChatParts:
    """The conversation filling the window, the question box with *Ask* and *New chat*, the line that
    says why a question was not sent (busy, too long), and example questions to click."""
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
            show_label=False, placeholder="Type a question and press Enter", scale=5, elem_id="question"
        )
        ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
        new_chat = gr.Button("New chat", variant="secondary", scale=1, elem_id="new-chat")
    note = gr.Markdown("", elem_id="question-note")
    with gr.Row():
        gr.Markdown("Try:", elem_classes="examples-label")
        buttons = tuple(gr.Button(q, size="sm", variant="secondary") for q in examples)
    return ChatParts(chat, question, ask, new_chat, note, buttons)


class Questions:
    """What asking does, for every tab of the page: echo a question at once, answer it, and let *New
    chat* drop a question still running.

    ``waiting`` maps a browser session to the token of the question it waits for: a second question
    while one runs is refused with a visible reason, and an answer whose chat was cleared meanwhile
    is dropped rather than brought back."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.waiting: dict[str, str] = {}  # session -> the token of the question it waits for; New chat drops it

    def echo(
        self, question: str, history: list[Message], running: bool, conversation: Conversation, request: gr.Request
    ) -> list[Any]:
        """Show the question at once, with a "Searching your documents…" bubble, and disable Ask.

        While this session's previous question runs, or for an over-long question, nothing is echoed:
        a line under the box says why and the question stays in it. ``pending`` is left alone when busy
        (a queued ``respond`` reads it when it starts); the ``respond`` chained to this echo finds the
        question already taken (``waiting``) and does nothing."""
        if running or session_of(request) in self.waiting:  # the server's word too: two quick Enters race
            return [gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), BUSY]  # ``pending`` is the running one's
        if len(question.strip()) > MAX_QUESTION_CHARS:
            return [gr.skip(), gr.skip(), None, gr.skip(), gr.skip(), too_long(question)]
        history = list(history or [])
        if question.strip():
            history.append({"role": "user", "content": md_escape(question)})
        history.append({"role": "assistant", "content": "", "metadata": {"title": SEARCHING, "status": "pending"}})
        reading = followup.read(question, tuple((conversation or {}).get("subject", ())))
        token = uuid.uuid4().hex
        self.waiting[session_of(request)] = token
        pending = {"question": question, "token": token, "search": reading.search, "read_as": reading.shown}
        pending["ask"] = reading.for_reader  # a follow-up's reader sees its subject too ("Who is in Stargate?")
        pending["subject"] = list(followup.subject_after(reading))
        return [history, "", pending, True, gr.update(interactive=False), ""]

    def respond(
        self,
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
        if pending is None or self.waiting.get(session_of(request)) != pending.get("token"):
            return [gr.skip()] * 5  # nothing asked, or answered already, or New chat was pressed
        history = [m for m in history or [] if not searching(m)]
        conversation = dict(conversation or {})
        try:
            content, source = self.answer(pending, k, level, reader, search_in, conversation.get("source"))
        except RagError as exc:
            content, source = f"⚠️ {md_escape(str(exc))}", None
        except Exception as exc:
            log.exception("answering %r failed", pending.get("question"))
            content, source = f"⚠️ Something went wrong: {md_escape(str(exc))}", None
        if self.waiting.get(session_of(request)) != pending.get("token"):
            return [gr.skip()] * 5  # New chat was pressed: this answer belongs to a chat that is gone
        self.waiting.pop(session_of(request), None)
        conversation["subject"] = pending.get("subject", [])
        conversation["source"] = source or conversation.get("source")
        history.append({"role": "assistant", "content": content})
        return [history, None, False, gr.update(interactive=True), conversation]

    def answer(
        self, pending: dict, k: float, level: str, reader: str, search_in: list[str] | None, previous: str | None
    ) -> tuple[str, str | None]:
        """The reply to one question and the file its answer came from (None: no answer)."""
        assistant = self.assistant
        question = pending.get("ask") or pending["question"]
        used = None if level not in LEVELS or level == RECOMMENDED else assistant.levels(reader)[level]
        started = time.perf_counter()
        result = assistant.ask(question, int(k), used, reader, self.chosen_sources(search_in), pending.get("search"))
        other = assistant.other_answer(result, used, reader)
        context = Context(read_as=pending.get("read_as"), previous_source=previous, other=other)
        content = assistant.reply(result, reader, used, time.perf_counter() - started, context)
        return content, None if result.answer is None else result.answer.source

    def chosen_sources(self, search_in: list[str] | None) -> list[str] | None:
        """The files ticked in "Search in" that still exist; None (all documents) when none is."""
        names = set(self.assistant.documents())
        chosen = [s for s in search_in or [] if s in names]
        return chosen or None

    def cleared(self, request: gr.Request) -> list[Any]:
        """An empty chat: every answer goes, with its sources; a question still running is cancelled,
        and its answer, should it come anyway, is dropped (``respond`` checks ``waiting``)."""
        self.waiting.pop(session_of(request), None)
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


def wire_chat(
    demo: gr.Blocks, assistant: Assistant, parts: ChatParts, settings: SettingsParts, search_in: gr.Dropdown
) -> None:
    """Connect the chat column: Enter, *Ask* and each example echo the question and then answer it
    with this tab's settings and *Search in*; *New chat* clears the chat and cancels a question still
    running; the chat is saved to browser storage after each answer and restored on load."""
    questions = Questions(assistant)
    pending = gr.State(None)  # the question this session is waiting for
    running = gr.State(False)
    conversation = gr.State({})  # its subject (for follow-ups) and the file of its last answer
    saved = gr.BrowserState(None, storage_key=HISTORY_KEY)  # the chat, kept in this browser for a reload
    chat, question, ask = parts.chat, parts.question, parts.ask

    answers = []
    triggers = ((question.submit, question), (ask.click, question), *((b.click, b) for b in parts.examples))
    for trigger, source in triggers:
        shown = trigger(
            questions.echo,
            [source, chat, running, conversation],
            [chat, question, pending, running, ask, parts.note],
            queue=False,
            show_progress="hidden",
        )
        answered = shown.then(
            questions.respond,
            [pending, chat, settings.k, settings.level, settings.reader, search_in, conversation],
            [chat, pending, running, ask, conversation],
            show_progress="hidden",
            concurrency_limit=assistant.concurrency,  # one pool for every way of asking
            concurrency_id="respond",
        )
        answers.append(answered)
        answered.then(remember, [chat, conversation], saved, queue=False, show_progress="hidden")
    # The kept chat becomes an empty one, not None: Gradio writes no falsy value to browser storage,
    # so the old chat would come back on a reload.
    parts.new_chat.click(
        questions.cleared, None, [chat, pending, running, ask, conversation, parts.note], cancels=answers, queue=False
    ).then(lambda: remember([], {}), None, saved, queue=False, show_progress="hidden")
    demo.load(restore, saved, [chat, conversation], show_progress="hidden")
    chat.change(lambda: "", None, parts.note, queue=False, show_progress="hidden")  # a reply came: no busy note
