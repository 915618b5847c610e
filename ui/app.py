"""The chat page (``rag ui``, also ``python -m ui.app``): chat with your documents in the browser, every
answer cited and highlighted.

Serves on 127.0.0.1 unless --host says otherwise, and makes no calls to the internet. The index
is built or updated and the models load once, at start-up; every browser session then has its own
chat and settings.
"""

from __future__ import annotations

import logging
import socket
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi.responses import HTMLResponse
from gradio.utils import get_upload_folder as gradio_upload_folder

from rag.config import CONCURRENT_QUESTIONS, TOP_K
from rag.documents.folder import check_docs_dir
from rag.errors import RagError, UsageError
from rag.pipeline import Pipeline
from rag.settings import Settings
from ui.chat import EXAMPLES, chat_column, wire_chat
from ui.core import Assistant, load_readers
from ui.document_view import DOCUMENT_HEADERS, FONT_FAMILY, FONT_FILES, document_page, document_span, problem_page
from ui.documents_panel import documents_panel, search_in_box
from ui.menu import MENU_BUTTON, MENU_CSS, MENU_JS, menu_head
from ui.settings_panel import settings_panel
from ui.text import DocumentError, md_escape
from ui.uploads import MAX_UPLOAD_BYTES, recover

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
@media (max-width: 640px) {  /* a phone: the chat, the question box and the examples on the first screen */
  #intro p { font-size: 0; margin: 0; }  /* the intro's sentence goes; the title and the menu stay (ui.menu) */
  #intro h1 { font-size: 1.35rem; margin: 0; line-height: 2.2rem; }
  #chat { height: calc(100dvh - 420px) !important; min-height: 200px !important; }
  #ask-row { flex-wrap: wrap !important; gap: 0.5rem !important; }
  #ask-row > .form { flex: 1 1 100% !important; }
  #ask-row > button { flex: 1 1 40% !important; min-width: 0 !important; }
}
"""
CSS += MENU_CSS  # the phone menu's own rules
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
PAGE_JS = SIZE_GUARD_JS.rstrip().removesuffix("}") + COPY_JS + MENU_JS + "}"
log = logging.getLogger("ui.app")


def theme() -> gr.themes.Base:
    """Gradio's theme with one font family in every weight the page uses, served by the app itself
    (Gradio's default pulls no Google font, but its semibold file lacks most letters, so bold text
    fell back to another font)."""
    return gr.themes.Default(
        font=[gr.themes.LocalFont(FONT_FAMILY, weights=tuple(FONT_FILES)), "sans-serif"],
        font_mono=[gr.themes.LocalFont("IBM Plex Mono", weights=(400, 700)), "monospace"],
    )


def intro(docs_dir: Path) -> gr.Markdown:
    """The page's title and what it does, with the folder it answers from; on a phone only the title
    and the *Menu* button (``ui.menu``) stay, so the chat fits the first screen."""
    return gr.Markdown(
        f"{MENU_BUTTON}\n\n# Ask your documents\nAnswers are copied word for word from the documents in "
        f"*{md_escape(str(docs_dir))}*; each shows the sentence it comes from, "
        "and a click on its source opens the document there.",
        elem_id="intro",
        sanitize_html=False,  # the sanitiser drops the menu button's aria attributes; the folder name is escaped
    )


def build(assistant: Assistant, top_k: int = TOP_K, unavailable: dict[str, str] | None = None) -> gr.Blocks:
    """The page, as an outline: the intro; the chat column on the left, each answer with its sources
    (``ui.chat``); *Search in*, Settings and Documents on the right (``ui.documents_panel``,
    ``ui.settings_panel``), behind the menu on a phone (``ui.menu``). Each part lays itself out and
    wires its own events; the chat is wired last because it reads the settings and *Search in*.
    ``unavailable``: readers that did not load, and why."""
    with gr.Blocks(title="Ask your documents", analytics_enabled=False) as demo:
        intro(assistant.docs_dir)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chat = chat_column(EXAMPLES)
            with gr.Column(scale=1, min_width=300, elem_id="side-panel"):
                menu_head()
                search_in = search_in_box()
                settings = settings_panel(assistant, top_k, unavailable)
                documents_panel(demo, assistant, search_in)
        wire_chat(demo, assistant, chat, settings, search_in)
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


def serve(
    settings: Settings,
    host: str,
    port: int,
    announce: Callable[[str], None] | None = None,
    concurrency: int = CONCURRENT_QUESTIONS,
    quiet: bool = False,
) -> None:
    """Build the page over ``settings`` and serve it until interrupted (``rag ui``); ``announce`` is told the
    address once the page answers; ``concurrency``: questions in flight at once; ``quiet``: Gradio prints
    nothing on stdout (``rag ui --json`` keeps stdout for its JSON line)."""
    check_docs_dir(settings.docs)
    check_port(host, port)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    quiet_refusals()
    for note in recover(settings.docs):  # before the index is brought in step with the folder
        log.warning("%s", note)
    pipe = Pipeline(settings)
    pipe.refresh()
    readers, unavailable = load_readers(pipe)
    for name, why in unavailable.items():
        log.warning("the %s reader is unavailable: %s", name, why)
    assistant = Assistant(pipe, readers, uploads_dir=Path(gradio_upload_folder()), concurrency=concurrency)
    demo = build(assistant, settings.top_k, unavailable)
    demo.queue()
    try:
        demo.launch(
            server_name=host,
            server_port=port,
            share=False,
            show_error=True,
            max_file_size=MAX_UPLOAD_BYTES,  # one limit: Gradio refuses larger files before they arrive
            theme=theme(),
            css=CSS,
            js=PAGE_JS,
            footer_links=[],  # no Gradio footer: its settings panel is for developers
            prevent_thread_lock=True,
            quiet=quiet,
        )
    except OSError as exc:
        raise RagError(f"cannot serve on {host}:{port}: {exc}") from None
    demo.app.add_api_route("/document", document_view(assistant), methods=["GET"])
    if announce is not None:
        announce(demo.local_url)
    demo.block_thread()


if __name__ == "__main__":  # the old spelling, python -m ui.app: the command is rag ui (rag.commands.chat)
    import importlib

    sys.exit(importlib.import_module("rag.commands.chat").main(prog="python -m ui.app"))
