"""python -m ui.app: chat with your documents in the browser, every answer cited and highlighted.

Serves on 127.0.0.1 unless --host says otherwise, and makes no calls to the internet. The index
is built or updated and the models load once, at start-up; every browser session then has its own
chat and settings.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import socket
import sys
import textwrap
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder as gradio_upload_folder

from rag.cli import add_corpus_args, add_reader_model_arg, reader_from_args, run
from rag.config import TOP_K
from rag.documents.folder import check_docs_dir
from rag.errors import RagError, UsageError
from rag.pipeline import Pipeline
from rag.reader import DEFAULT_READER, READERS
from rag.types import Result
from ui.core import (
    ANSWER_LABEL,
    MAX_UPLOAD_BYTES,
    Assistant,
    UploadRejected,
    format_reply,
    highlight,
    load_readers,
    md_escape,
    passage_label,
    sources_heading,
)

EXAMPLES = (
    "who supplies GPUs in the deal?",
    "When did OpenAI finalize the agreement with Google's cloud division?",
    "What is the capital of France?",
)
MAX_PASSAGES = 10
# Passages flow as running text (not one box per segment), the answer marked inline.
CSS = """
.sources .textfield { display: block; word-break: normal; overflow-wrap: anywhere; font-size: 0; line-height: 0; }
.sources .text { font-size: var(--text-md); line-height: 1.6; }
.sources .line-break { display: block; height: 0.4em; }
.sources .token.highlighted { margin: 0; padding: 0; }
.sources .highlighted .text { background: #fde68a; color: #000; font-weight: 600; padding: 1px 3px; border-radius: 3px }
.examples-label { flex-grow: 0 !important; min-width: 2.5em !important; }
"""

log = logging.getLogger("ui.app")
Message = dict[str, str]


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


def source_updates(result: Result) -> list[Any]:
    """One update per source slot: the retrieved passages with the answer highlighted, the rest hidden."""
    updates = [
        gr.update(value=highlight(p, result.answer), label=passage_label(i, p), visible=True)
        for i, p in enumerate(result.passages[:MAX_PASSAGES], 1)
    ]
    return updates + [gr.update(value=None, visible=False)] * (MAX_PASSAGES - len(updates))


def build(assistant: Assistant, top_k: int = TOP_K, unavailable: dict[str, str] | None = None) -> gr.Blocks:
    """The page: chat and sources on the left, settings and uploads on the right."""
    default_reader = assistant.pipe.reader.name

    def respond(question: str, history: list[Message], k: float, threshold: float, reader: str) -> list[Any]:
        """Answer into this session's chat; on a bad question, say why and leave the sources as they were."""
        history = list(history or [])
        if question.strip():
            history.append({"role": "user", "content": md_escape(question)})
        try:
            result = assistant.ask(question, int(k), threshold, reader)
        except RagError as exc:
            history.append({"role": "assistant", "content": f"⚠️ {md_escape(str(exc))}"})
            return [history, gr.skip(), gr.skip(), *[gr.skip()] * MAX_PASSAGES]
        history.append({"role": "assistant", "content": format_reply(result)})
        return [history, "", sources_heading(result), *source_updates(result)]

    def add_document(path: str | None) -> list[Any]:
        if not path:
            return [None, "", documents_list()]
        name = md_escape(Path(path).name)
        try:
            message = assistant.add_document(Path(path))
        except UploadRejected as exc:
            message = f"⚠️ Not added {name}: {md_escape(str(exc))}. Nothing was changed."
        except Exception as exc:
            log.exception("adding %s failed", path)
            message = f"⚠️ Not added {name}: {md_escape(str(exc))}"
        finally:
            discard_upload(Path(path), assistant.uploads_dir)
        return [None, message, documents_list()]

    def documents_list() -> str:
        names = assistant.documents()
        return f"**Documents ({len(names)})**\n\n" + "\n".join(f"- {md_escape(n)}" for n in names)

    def reader_changed(name: str) -> float:
        return assistant.readers[name].threshold

    with gr.Blocks(title="Ask your documents", analytics_enabled=False) as demo:
        gr.Markdown(
            "# Ask your documents\nAnswers are copied word for word from the documents in "
            f"*{md_escape(str(assistant.docs_dir))}*, with the file and character range they come from."
        )
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(
                    label="Chat",
                    height=300,
                    buttons=["copy", "copy_all"],
                    latex_delimiters=[],
                    feedback_options=None,
                    group_consecutive_messages=False,
                    placeholder="Ask a question: the answer comes with its source.",
                    elem_id="chat",
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="Type a question and press Enter",
                        scale=5,
                        elem_id="question",
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                with gr.Row():
                    gr.Markdown("Try:", elem_classes="examples-label")
                    examples = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
                title = gr.Markdown(elem_id="sources-title")
                with gr.Column(elem_classes="sources", elem_id="sources"):
                    slots = [
                        gr.HighlightedText(
                            visible=False,
                            color_map={ANSWER_LABEL: "#facc15"},
                            show_legend=False,
                            show_inline_category=False,
                            elem_classes="source",
                        )
                        for _ in range(MAX_PASSAGES)
                    ]
            with gr.Column(scale=1):
                with gr.Accordion("Settings", open=True):
                    k = gr.Slider(1, MAX_PASSAGES, value=top_k, step=1, label="Passages to retrieve (top-k)")
                    threshold = gr.Slider(
                        0.0,
                        1.0,
                        value=assistant.readers[default_reader].threshold,
                        step=0.01,
                        label="Abstention threshold",
                        info="Below this confidence the answer is 'Not found in the documents.'",
                    )
                    reader_choice = gr.Dropdown(
                        list(assistant.readers),
                        value=default_reader,
                        label="Reader",
                        interactive=len(assistant.readers) > 1,
                        info=f"Not available: {', '.join(unavailable)} (see the server log)" if unavailable else None,
                    )
                with gr.Accordion("Add a document", open=True):
                    upload = gr.File(
                        label=f"Upload a .txt, .md, .html, .pdf or .docx file (up to {MAX_UPLOAD_BYTES // 2**20} MB)",
                        height=170,
                        elem_id="upload",
                    )
                    status = gr.Markdown(elem_id="upload-status")
                    docs = gr.Markdown(documents_list, elem_id="documents")

        settings = [k, threshold, reader_choice]
        outputs = [chat, question, title, *slots]
        question.submit(respond, [question, chat, *settings], outputs)
        ask.click(respond, [question, chat, *settings], outputs)
        for button in examples:
            button.click(respond, [button, chat, *settings], outputs)
        reader_choice.change(reader_changed, reader_choice, threshold)
        upload.upload(add_document, upload, [upload, status, docs])
    return demo


def discard_upload(path: Path, uploads_dir: Path | None) -> None:
    """Delete Gradio's temporary copy of an upload (and its folder, if now empty) once it is used;
    never anything outside the upload folder."""
    if uploads_dir is None or path.is_symlink() or not path.resolve().is_relative_to(uploads_dir.resolve()):
        return
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        if path.parent.resolve() != uploads_dir.resolve():
            path.parent.rmdir()


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
    pipe = Pipeline(args.docs, args.index, top_k=args.top_k, reader=reader_from_args(args))
    pipe.refresh()
    readers, unavailable = load_readers(pipe)
    for name, why in unavailable.items():
        log.warning("the %s reader is unavailable: %s", name, why)
    demo = build(Assistant(pipe, readers, uploads_dir=Path(gradio_upload_folder())), args.top_k, unavailable)
    demo.queue()
    try:
        demo.launch(
            server_name=args.host,
            server_port=args.port,
            share=False,
            show_error=True,
            max_file_size=MAX_UPLOAD_BYTES,  # one limit: Gradio refuses larger files before they arrive
            css=CSS,
            footer_links=["settings"],
        )
    except OSError as exc:
        raise RagError(f"cannot serve on {args.host}:{args.port}: {exc}") from None
    return 0


def main(argv: list[str] | None = None) -> int:
    """Start the server; errors become one line on stderr and a non-zero exit code."""
    return run(_main, argv)


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
