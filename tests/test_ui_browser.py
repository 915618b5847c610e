"""The chat page in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

The app runs as a subprocess over a temporary copy of seeds/, exactly as a user starts it.
Without /usr/bin/chromium these tests are skipped, except under CI (env CI set), where they fail.
The README's screenshots are taken by scripts/screenshots.py, which the last test here runs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.builders import make_pdf
from tests.conftest import ROOT, SEEDS
from ui.reply import SEARCHING
from ui.text import count

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = 120
ANSWER_TIMEOUT_MS = 30_000
REFRESH_TIMEOUT_MS = 20_000  # another tab's document list: the app re-reads it every few seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"the app did not answer on {url} within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """``python -m ui.app`` over a fresh copy of seeds/; yields its URL and docs folder."""
    work = tmp_path_factory.mktemp("ui")
    docs = work / "seeds"
    shutil.copytree(SEEDS, docs)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = work / "app.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "GRADIO_TEMP_DIR": str(work / "uploads")}
    # One question at a time, as before --concurrency: the busy-state tests need a question to wait behind
    # another tab's however fast the machine is (concurrency itself: test_ui.py and bench/chat_load.py).
    cmd = [
        sys.executable,
        "-m",
        "ui.app",
        "--docs",
        "seeds",
        "--index",
        "index",
        "--port",
        str(port),
        "--concurrency",
        "1",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(url, proc, log)
        yield url, docs
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI must run the browser tests")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, app):
    """Opens the app in a fresh browser session; any request that would leave the machine is blocked and fails."""
    url = app[0]
    contexts, outside = [], []

    def route(r) -> None:
        if r.request.url.startswith((url, "data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    def open_page():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        context.route("**/*", route)
        page = context.new_page()
        page.goto(url)
        page.locator("#question textarea").wait_for()
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert outside == [], "the page tried to reach the internet"


@pytest.fixture
def page(new_page):
    return new_page()


def send(page, question: str) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")


def ask(page, question: str):
    """Type a question, press Enter, and return the reply that replaces the searching bubble."""
    from playwright.sync_api import expect

    replies = page.locator("#chat .bot.message")
    before = replies.count()
    send(page, question)
    expect(replies).to_have_count(before + 1, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#chat")).not_to_contain_text(SEARCHING, timeout=ANSWER_TIMEOUT_MS)
    return replies.nth(before)  # this reply, even after later ones


def upload(page, name: str, data: bytes, outcome: str, mime: str = "text/plain", where: str = "#upload") -> str:
    """Upload a file through a file input (``#upload`` adds, ``#replace`` replaces); waits for ``outcome``."""
    from playwright.sync_api import expect

    status = page.locator("#upload-status")
    page.locator(f"{where} input[type=file]").set_input_files(files=[{"name": name, "mimeType": mime, "buffer": data}])
    expect(status).to_contain_text(outcome, timeout=ANSWER_TIMEOUT_MS)
    return status.inner_text()


def choose(page, locator: str, option: str) -> None:
    """Pick ``option`` in the dropdown ``locator``."""
    page.locator(f"{locator} input").click()
    page.locator("ul[role=listbox] li").filter(has_text=option).first.click()


def span_of(href: str) -> tuple[str, int, int]:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)
    return query["source"][0], int(query["start"][0]), int(query["end"][0])


def open_citation(page, link):
    """Click a citation; returns the document view it opens in a new tab."""
    with page.context.expect_page() as opened:
        link.click()
    view = opened.value
    view.wait_for_load_state()
    return view


# --- 1. sources with each answer; the chat fills the window; clearing clears everything ------------


def test_each_answer_carries_its_own_sources(page):
    from playwright.sync_api import expect

    first = ask(page, "who supplies GPUs in the deal?")

    expect(first.locator("p.answer strong")).to_have_text("CoreWeave")
    expect(first.locator("blockquote mark")).to_have_text("CoreWeave")
    sources = first.locator("details.sources")
    expect(sources).to_have_count(1)
    expect(sources.locator("li").first).to_be_hidden()  # collapsed under the reply
    sources.locator("summary").click()
    expect(sources.locator(".file-name")).to_have_text(["openai-google-cloud-partnership.txt"])  # named once
    item = sources.locator("ol li").first
    expect(item.locator("a.cite")).to_have_text(re.compile(r"^line \d+$"))  # and where in it
    expect(item.locator("mark")).to_have_text("CoreWeave")
    expect(item.locator(".excerpt")).to_have_text(re.compile(r"^A significant aspect of .*CoreWeave, .* services\.$"))
    for excerpt in sources.locator(".excerpt").all_inner_texts():
        assert excerpt[0].isupper() or excerpt.startswith("…"), excerpt  # whole sentences, or says it is cut

    second = ask(page, "When did OpenAI finalize the agreement with Google's cloud division?")
    second.locator("details.sources summary").click()
    third = ask(page, "What is the capital of France?")

    expect(second.locator("details.sources li mark")).to_have_text("May 2025")
    expect(first.locator("details.sources li mark")).to_have_text("CoreWeave")  # older answers keep theirs
    expect(third.locator("details.sources")).to_contain_text("Closest passages")
    expect(page.locator("#chat details.sources")).to_have_count(3)
    first.locator("details.sources summary").click()
    expect(first.locator("details.sources li").first).to_be_hidden()

    page.locator("#new-chat").click()
    expect(page.locator("#chat .message")).to_have_count(0)
    expect(page.locator("details.sources, mark, blockquote")).to_have_count(0)


def test_the_chat_fills_the_window_and_nothing_covers_its_top_message(page):
    from playwright.sync_api import expect

    for question in ("who supplies GPUs in the deal?", "When did OpenAI finalize the agreement?") * 2:
        ask(page, question)
    height = page.viewport_size["height"]
    chat = page.locator("#chat").bounding_box()
    box = page.locator("#question textarea").bounding_box()
    assert chat["height"] >= 0.6 * height and box["y"] + box["height"] <= height
    expect(page.locator("#chat [data-testid=block-label]")).to_have_count(0)
    page.locator("#chat .bubble-wrap").evaluate("(el) => el.scrollTo(0, el.scrollHeight / 2)")
    on_top = page.evaluate(
        "([x, y]) => { const el = document.elementFromPoint(x, y); return el.closest('button, label') === null; }",
        [chat["x"] + chat["width"] - 30, chat["y"] + 12],
    )
    assert on_top, "a floating label or button covers the top of the chat"


# --- 2. the document view ----------------------------------------------------------------------


def test_a_citation_opens_the_document_at_the_span(page, app):
    from playwright.sync_api import expect

    from rag.documents.folder import file_text

    filler = "".join(f"<p>Note {i}: the harbour keeps records of tides, ships and weather.</p>" for i in range(120))
    page_html = f"<html><body><h1>Port Elira</h1>{filler}<p>The harbour master of Port Elira is <b>Ines Varga</b>.</p>"
    upload(page, "elira.html", (page_html + "</body></html>").encode(), "Added elira.html", "text/html")

    reply = ask(page, "Who is the harbour master of Port Elira?")
    expect(reply.locator("p.answer strong")).to_have_text("Ines Varga")
    link = reply.locator("p.meta a.cite")
    expect(link).to_have_text("elira.html, section “Port Elira”")  # the nearest heading
    view = open_citation(page, link)

    source, start, end = span_of(link.get_attribute("href"))
    text = file_text(app[1], source)
    assert text[start:end] == "Ines Varga"
    mark = view.locator("mark#span")
    assert mark.text_content() == text[start:end]
    assert view.locator("#text").text_content() == text  # the extracted text, whole and exact
    expect(mark).to_be_in_viewport()
    assert view.evaluate("window.scrollY") > 0
    note = "The highlighted text (section “Port Elira”) is what the answer cites."
    expect(view.locator("#note")).to_contain_text(note)

    reply.locator("details.sources summary").click()
    other = reply.locator("details.sources li a.cite").nth(1)
    view = open_citation(page, other)
    source, start, end = span_of(other.get_attribute("href"))
    assert view.locator("mark#span").text_content() == file_text(app[1], source)[start:end]


def test_the_document_view_serves_only_the_documents(app):
    url, docs = app
    secret = docs.parent / "secret.txt"
    secret.write_text("The vault code of Port Elira is 4711.\n", encoding="utf-8")
    for source in ("../secret.txt", str(secret), "missing.txt"):
        query = urllib.parse.urlencode({"source": source, "start": 0, "end": 5})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}document?{query}", timeout=10)
        assert refused.value.code == 404 and "4711" not in refused.value.read().decode()


# --- 3. immediate feedback -------------------------------------------------------------------------


def test_the_question_appears_at_once_with_a_searching_bubble(page):
    from playwright.sync_api import expect

    page.evaluate(
        """() => {
        window.__seen = [];
        const chat = document.querySelector('#chat');
        new MutationObserver(() => window.__seen.push({
            text: chat.innerText, askDisabled: document.querySelector('#ask').disabled,
        })).observe(chat, {subtree: true, childList: true, characterData: true});
    }"""
    )
    reply = ask(page, "who supplies GPUs in the deal?")

    seen = page.evaluate("window.__seen")
    waiting = [s for s in seen if SEARCHING in s["text"]]
    assert waiting, "no searching bubble was shown"
    assert all("who supplies GPUs in the deal?" in s["text"] and "CoreWeave" not in s["text"] for s in waiting)
    assert all(s["askDisabled"] for s in waiting)
    expect(page.locator("#ask")).to_be_enabled()
    expect(reply.locator(".took")).to_have_text(re.compile(r"^\d+\.\d s$"))


def test_a_new_chat_cancels_the_question_still_running(new_page):
    from playwright.sync_api import expect

    page, *others = new_page(), new_page(), new_page(), new_page()
    for other in others:  # questions ahead of this one: it waits its turn for the models
        send(other, "When did OpenAI finalize the agreement with Google's cloud division?")
    send(page, "who supplies GPUs in the deal?")
    expect(page.locator("#chat")).to_contain_text(SEARCHING)
    page.locator("#new-chat").click()
    expect(page.locator("#chat .message")).to_have_count(0)
    expect(page.locator("#ask")).to_be_enabled()
    for other in others:
        expect(other.locator("#chat .reply")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_timeout(2000)
    expect(page.locator("#chat .message")).to_have_count(0)  # no answer arrived in the cleared chat
    expect(ask(page, "who supplies GPUs in the deal?").locator("p.answer")).to_have_text("CoreWeave")


# --- 4. honest confidence ----------------------------------------------------------------------


def test_confidence_is_a_label_with_the_number_on_hover_and_no_score_is_shown(page):
    from playwright.sync_api import expect

    reply = ask(page, "who supplies GPUs in the deal?")

    label = reply.locator(".confidence")
    expect(label).to_have_text(re.compile(r"^(high|medium|low) confidence$"))
    expect(label).to_have_attribute("title", re.compile(r"^(High|Medium|Low) confidence: [^0-9]+$"))
    expect(reply).not_to_contain_text("score")
    expect(reply).not_to_contain_text("probability")
    abstained = ask(page, "What is the capital of France?")
    expect(abstained).to_contain_text("Not found in the documents.")
    expect(abstained.locator("details.sources li")).not_to_have_count(0)
    assert not re.search(r"-\s?\d", abstained.text_content()), "a negative number is shown"
    expect(abstained).not_to_contain_text("score")


# --- 5. settings in plain words ----------------------------------------------------------------


def test_settings_are_explained_collapsed_and_keep_a_chosen_threshold(page):
    from playwright.sync_api import expect

    settings = page.locator("#settings")
    expect(page.locator("#threshold")).to_be_hidden()
    settings.get_by_text("Settings").click()
    for info in ("How many passages", "stricter gives fewer wrong answers", "Which model picks the answer"):
        expect(settings).to_contain_text(info)
    levels = page.locator("#threshold label")
    expect(levels).to_have_text(
        ["Always answer, even a guess", "When it has a lead (recommended)", "Only when fairly sure", "Only when sure"]
    )
    chosen = page.locator("#threshold input:checked")
    expect(chosen).to_have_value("When it has a lead (recommended)")
    note = page.locator("#levels-note")
    expect(note).to_contain_text("For the trained reader, these levels answer from a probability of 0.00, 0.07")

    reader = page.locator("#reader input")
    assert reader.evaluate("(e) => e.scrollWidth <= e.clientWidth"), "the reader's name is cut off"
    reader.click()
    options = page.locator("ul[role=listbox] li")
    expect(options).to_have_count(2)
    expect(options.first).to_contain_text("Trained reader (best)")
    expect(options.last).to_contain_text("Rule-based reader (fast)")
    options.last.click()
    expect(chosen).to_have_value("When it has a lead (recommended)")  # no jump: still the reader's own
    expect(note).to_contain_text("For the rule-based reader, these levels answer from a probability of 0.00, 0.24")

    page.locator("#threshold label").filter(has_text="Always answer").click()
    choose(page, "#reader", "Trained reader")
    expect(chosen).to_have_value("Always answer, even a guess")  # the user's choice survives a change of reader
    reply = ask(page, "What is the capital of France?")
    expect(reply).not_to_contain_text("Not found in the documents.")  # and is the one applied: even a guess


# --- 6. documents: add, replace, remove, the same list in every tab -------------------------------


def test_documents_are_replaced_and_removed_and_every_tab_sees_it(new_page, app):
    from playwright.sync_api import expect

    docs = app[1]
    first, second = new_page(), new_page()
    tides = b"The spring tide at Port Elira peaks at 4.2 metres.\n"
    status = upload(first, "tides.txt", tides, "Added tides.txt")
    assert "(1 passage indexed)" in status
    expect(second.locator("#documents")).to_contain_text("tides.txt", timeout=REFRESH_TIMEOUT_MS)
    n = len([p for p in docs.iterdir() if p.is_file()])
    expect(second.locator("#documents")).to_contain_text(count(n, "document"))

    choose(second, "#chooser", "tides.txt")
    new = b"The spring tide at Port Elira peaks at 5.1 metres.\n"
    upload(second, "tides-v2.txt", new, "Replaced tides.txt", where="#replace")
    assert (docs / "tides.txt").read_bytes() == new
    expect(ask(first, "How high does the spring tide at Port Elira peak?").locator("p.answer")).to_have_text(
        "5.1 metres"
    )

    choose(first, "#chooser", "tides.txt")
    first.once("dialog", lambda dialog: dialog.accept())
    first.locator("#remove").click()
    expect(first.locator("#upload-status")).to_contain_text("Removed tides.txt", timeout=ANSWER_TIMEOUT_MS)
    assert not (docs / "tides.txt").exists()
    expect(first.locator("#documents")).to_contain_text(count(n - 1, "document"))
    expect(second.locator("#documents")).not_to_contain_text("tides.txt", timeout=REFRESH_TIMEOUT_MS)
    expect(ask(second, "How high does the spring tide at Port Elira peak?")).not_to_contain_text("tides.txt")


def test_one_size_limit_with_one_message(page, app):
    from playwright.sync_api import expect

    before = sorted(p.name for p in app[1].iterdir())
    status = page.locator("#upload-status")
    big = [{"name": "big.txt", "mimeType": "text/plain", "buffer": b"a" * (5 * 10**6 + 1)}]
    page.locator("#upload input[type=file]").set_input_files(files=big)
    expect(status).to_have_text("⚠️ Not added big.txt: the file is 5.1 MB; the limit is 5 MB. Nothing was changed.")
    choose(page, "#chooser", "openai-google-cloud-partnership.txt")
    page.locator("#replace input[type=file]").set_input_files(files=big)
    expect(status).to_have_text("⚠️ Not replaced big.txt: the file is 5.1 MB; the limit is 5 MB. Nothing was changed.")
    expect(page.get_by_text("exceed the maximum")).to_have_count(0)
    assert sorted(p.name for p in app[1].iterdir()) == before


# --- 7. one font family, bold weights served locally -----------------------------------------------


def test_bold_text_is_drawn_in_the_pages_own_font(page):
    reply = ask(page, "who supplies GPUs in the deal?")
    reply.locator("details.sources summary").click()
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    for selector in ("#intro h1", "#chat p.answer strong", "#chat blockquote mark", "#ask", "#documents strong"):
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        assert [(f["familyName"], f["isCustomFont"]) for f in fonts] == [("Source Sans 3", True)], (selector, fonts)
        assert all("Bold" in f["postScriptName"] for f in fonts), (selector, fonts)


# --- uploads and safety, as before ------------------------------------------------------------------


def test_uploaded_document_is_answerable_right_away(page, app):
    from playwright.sync_api import expect

    mango = b"Farm diary.\n\nThe Zanzibar mango harvest is led by Amina Juma every March.\n"
    status = upload(page, "../mango harvest.txt", mango, "Added mango-harvest.txt")
    assert "can ask about it now" in status
    assert (app[1] / "mango-harvest.txt").is_file()
    expect(page.locator("#documents")).to_contain_text("mango-harvest.txt")

    reply = ask(page, "Who leads the Zanzibar mango harvest?")

    expect(reply.locator("p.answer")).to_have_text("Amina Juma")
    expect(reply.locator("p.meta a.cite")).to_have_text("mango-harvest.txt, line 3")
    expect(reply.locator("blockquote")).to_have_text("The Zanzibar mango harvest is led by Amina Juma every March.")


def test_uploaded_pdf_is_answerable_and_cited_with_its_page(page, app):
    from playwright.sync_api import expect

    pdf = make_pdf([["Harbour records of Port Elira."], ["The Port Elira lighthouse was designed by Tomasz Wren."]])
    upload(page, "harbour.pdf", pdf, "Added harbour.pdf", "application/pdf")
    assert (app[1] / "harbour.pdf").read_bytes() == pdf

    reply = ask(page, "Who designed the Port Elira lighthouse?")

    expect(reply.locator("p.answer")).to_have_text("Tomasz Wren")
    expect(reply.locator("p.meta a.cite")).to_have_text("harbour.pdf, page 2")
    expect(reply.locator("details.sources .file-name").first).to_have_text("harbour.pdf")
    expect(reply.locator("details.sources li a.cite").first).to_have_text("page 2")
    view = open_citation(page, reply.locator("p.meta a.cite"))
    expect(view.locator("mark#span")).to_have_text("Tomasz Wren")
    expect(view.locator("#note")).to_contain_text("(page 2)")
    expect(view.locator("#text .page")).to_have_count(2)


def test_bad_upload_is_refused_and_changes_nothing(page, app):
    before = sorted(p.name for p in app[1].iterdir())

    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00"
    status = upload(page, "photo.txt", png, "Not added photo.txt")
    assert "cannot be read as text (binary file)" in status and "Nothing was changed" in status
    status = upload(page, "report.pdf", b"%PDF-1.7 text", "Not added report.pdf", "application/pdf")
    assert "this PDF is damaged: stream has ended unexpectedly" in status and "Nothing was changed" in status
    assert "Error" not in status
    status = upload(page, "photo.png", png, "Not added photo.png")
    kinds = ".txt, .md, .html, .htm, .pdf, .docx, .odt, .pptx, .xlsx, .csv, .epub or .eml"
    assert f"only {kinds} files can be added" in status

    assert sorted(p.name for p in app[1].iterdir()) == before


def test_html_in_documents_and_questions_is_shown_as_text(page):
    from playwright.sync_api import expect

    evil = b"Harbour log.\n\n<script>window.__pwned=1</script><b>bold</b> The keeper of Port Elira is Tomasz Wren.\n"
    upload(page, "keeper.md", evil, "Added keeper.md")

    reply = ask(page, '<img src=x onerror="window.__pwned=2"> Who is the keeper of Port Elira?')
    reply.locator("details.sources summary").click()

    expect(reply).to_contain_text("<script>window.__pwned=1</script><b>bold</b>")
    expect(page.locator("#chat")).to_contain_text('<img src=x onerror="window.__pwned=2">')
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#chat b, #chat script, #chat img[src='x']").count() == 0
    link = reply.locator("details.sources li.file").filter(has_text="keeper.md").locator("a.cite").first
    view = open_citation(page, link)
    expect(view.locator("#text")).to_contain_text("<script>window.__pwned=1</script><b>bold</b>")
    assert view.evaluate("typeof window.__pwned") == "undefined"
    assert view.locator("#text b, #text script").count() == 0


def test_sessions_get_their_own_answers_and_chats(new_page):
    from playwright.sync_api import expect

    first, second = new_page(), new_page()
    send(first, "who supplies GPUs in the deal?")
    send(second, "When did OpenAI finalize the agreement with Google's cloud division?")
    expect(first.locator("#chat .reply")).to_contain_text("CoreWeave", timeout=ANSWER_TIMEOUT_MS)
    expect(second.locator("#chat .reply")).to_contain_text("2025", timeout=ANSWER_TIMEOUT_MS)
    expect(first.locator("#chat")).not_to_contain_text("finalize")
    expect(second.locator("#chat")).not_to_contain_text("GPUs")

    reply = ask(second, "   ")
    expect(reply).to_contain_text("the question is empty")
    expect(first.locator("#chat .bot.message")).to_have_count(1)


def call_api(url: str, name: str, data: list) -> list:
    """A raw call to the app's HTTP API, as any script could make it (no browser, no client upload)."""
    import json

    body = json.dumps({"data": data}).encode()
    request = urllib.request.Request(f"{url}gradio_api/call/{name}", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{name}/{event}", timeout=ANSWER_TIMEOUT_MS / 1000) as response:
        lines = response.read().decode().splitlines()
    payload = [ln.removeprefix("data: ") for ln in lines if ln.startswith("data: ")]
    return json.loads(payload[-1]) if payload and payload[-1] != "null" else []


def test_api_cannot_copy_a_server_file_into_the_docs(app, tmp_path):
    """A script naming a server file (not an upload) in the upload API gets it refused, by Gradio
    or by us (``ui.uploads.uploaded_file``), and nothing reaches the docs folder."""
    url, docs = app
    secret = tmp_path / "secret.txt"
    secret.write_text("The vault code of Port Elira is 4711.\n", encoding="utf-8")
    before = sorted(p.name for p in docs.iterdir())
    meta = {"_type": "gradio.FileData"}
    for path in (str(secret), f"{url}gradio_api/file={secret}", f"file://{secret}"):
        out = call_api(url, "add_document", [{"path": path, "orig_name": "x.txt", "meta": meta}])

        if isinstance(out, dict):
            assert "not uploaded by a user" in out["error"] or "failed validation" in out["error"]
        else:
            assert "only files uploaded from the browser can be added" in out[1]
    assert sorted(p.name for p in docs.iterdir()) == before
    assert secret.is_file(), "a server file outside the upload folder must never be deleted"
    assert not any("4711" in p.read_text(errors="replace") for p in docs.iterdir() if p.is_file())


def test_uploaded_copies_are_deleted(page, app):
    uploads = app[1].parent / "uploads"
    upload(page, "kiwi.txt", b"Kiwis are brown and fuzzy.\n", "Added kiwi.txt")
    assert not [p for p in uploads.rglob("*") if p.is_file() and p.name == "kiwi.txt"]


def test_api_cannot_remove_a_file_outside_the_documents(app):
    url, docs = app
    secret = docs.parent / "keep.txt"
    secret.write_text("Keep me.\n", encoding="utf-8")
    before = sorted(p.name for p in docs.iterdir())
    for source in ("../keep.txt", str(secret)):
        out = call_api(url, "remove_document", [source])
        if isinstance(out, dict):  # Gradio refuses a value that is not one of the choices
            assert "error" in out
        else:
            assert "is not one of the documents" in out[0]
    assert secret.is_file() and sorted(p.name for p in docs.iterdir()) == before


# --- #24: sources people can read, busy states, chrome, documents, search in, follow-ups, mobile, dark ---


def contrast(page, locator) -> float:
    """The WCAG contrast ratio of an element's text against the reply's background."""
    return locator.evaluate(
        """(el) => {
        const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
        const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92
            : Math.pow((v + 0.055) / 1.055, 2.4); }).reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
        const clear = (e) => getComputedStyle(e).backgroundColor.match(/rgba\\(.*, 0\\)|transparent/);
        let bg = el;
        while (bg && clear(bg)) bg = bg.parentElement;
        const a = lum(rgb(getComputedStyle(el).color));
        const b = lum(rgb(getComputedStyle(bg || document.body).backgroundColor));
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }"""
    )


def test_sources_are_readable_and_say_where_in_the_file(page):
    from playwright.sync_api import expect

    reply = ask(page, "who supplies GPUs in the deal?")
    for part in (reply.locator("p.meta"), reply.locator("p.meta a.cite"), reply.locator("p.details")):
        assert contrast(page, part) >= 4.5, part
    expect(reply.locator("p.meta a.cite")).to_have_text(re.compile(r"^openai-google-cloud-partnership\.txt, line \d+$"))
    reply.locator("details.sources summary").click()
    places = reply.locator("details.sources ol li a.cite").all_inner_texts()
    assert places and all(re.fullmatch(r"line \d+", p) for p in places), places
    expect(reply.locator("details.sources .file-name")).to_have_count(1)  # one file, named once
    expect(reply.locator(".confidence")).to_have_attribute("title", re.compile(r"confidence: "))


def test_new_chat_while_a_question_runs_never_brings_it_back(page):
    from playwright.sync_api import expect

    for _ in range(3):
        send(page, "When did OpenAI finalize the agreement with Google's cloud division?")
        expect(page.locator("#chat")).to_contain_text(SEARCHING)
        page.locator("#new-chat").click()
        expect(page.locator("#chat .message")).to_have_count(0)
        page.wait_for_timeout(4000)  # longer than an answer takes
        expect(page.locator("#chat .message")).to_have_count(0)
    expect(ask(page, "who supplies GPUs in the deal?").locator("p.answer")).to_have_text("CoreWeave")


def test_a_question_while_busy_or_too_long_is_refused_with_a_visible_reason(new_page):
    from playwright.sync_api import expect

    page, other = new_page(), new_page()
    send(other, "When did OpenAI finalize the agreement with Google's cloud division?")  # keeps the models busy
    send(page, "who supplies GPUs in the deal?")
    expect(page.locator("#chat")).to_contain_text(SEARCHING)
    box = page.locator("#question textarea")
    box.fill("When did OpenAI finalize the agreement?")
    box.press("Enter")
    note = page.locator("#question-note")
    expect(note).to_contain_text("Still answering your previous question")
    expect(box).to_have_value("When did OpenAI finalize the agreement?")  # kept, to send again
    expect(page.locator("#chat .reply")).to_have_count(1, timeout=ANSWER_TIMEOUT_MS)
    expect(note).to_be_hidden()

    long = "why " * 1800
    box.fill(long)
    box.press("Enter")
    expect(note).to_contain_text(f"This question is {len(long.strip()):,} characters long; the limit is 2,000")
    expect(page.locator("#chat .user.message")).to_have_count(1)  # not echoed
    expect(box).to_have_value(long)


def test_gradios_own_footer_and_settings_are_hidden(page):
    from playwright.sync_api import expect

    expect(page.locator("footer")).to_be_hidden()
    expect(page.get_by_text("Settings", exact=True)).to_have_count(1)  # ours only
    expect(page.get_by_text("Use via API")).to_have_count(0)


def test_documents_panel_same_file_damaged_pdf_units_and_layout(page, app):
    from playwright.sync_api import expect

    label = page.locator("#upload [data-testid=block-label]").bounding_box()
    icon = page.locator("#upload .icon-wrap, #upload svg").last.bounding_box()
    overlap = not (label["y"] + label["height"] <= icon["y"] or icon["y"] + icon["height"] <= label["y"])
    overlap = overlap and not (label["x"] + label["width"] <= icon["x"] or icon["x"] + icon["width"] <= label["x"])
    assert not overlap, (label, icon)
    expect(page.locator("#upload")).to_contain_text("up to 5 MB")

    text = b"Pier log. The pier of Port Elira is 212 metres long.\n"
    upload(page, "pier.txt", text, "Added pier.txt")
    choose(page, "#chooser", "pier.txt")
    upload(page, "pier.txt", text, "pier.txt is unchanged", where="#replace")
    expect(page.locator("#upload-status")).not_to_contain_text("Added")  # the old message is gone
    status = upload(page, "broken.pdf", b"%PDF-1.7 text", "Not added broken.pdf", "application/pdf")
    assert "this PDF is damaged" in status and "PdfStreamError" not in status


def test_search_in_chosen_files_and_a_change_of_file_stands_out(page):
    from playwright.sync_api import expect

    upload(
        page,
        "orchard.txt",
        b"Orchard notes.\n\nThe Zanzibar mango harvest is led by Amina Juma.\n",
        "Added orchard.txt",
    )
    first = ask(page, "who supplies GPUs in the deal?")
    expect(first.locator(".switch")).to_have_count(0)
    second = ask(page, "Who leads the Zanzibar mango harvest?")
    expect(second.locator("p.answer")).to_have_text("Amina Juma")
    expect(second.locator(".switch")).to_contain_text("From a different file than the previous answer: orchard.txt")

    choose(page, "#search-in", "openai-google-cloud-partnership.txt")
    third = ask(page, "Who leads the Zanzibar mango harvest?")
    third.locator("details.sources summary").click()
    expect(third).not_to_contain_text("Amina Juma")
    assert set(third.locator("details.sources .file-name").all_inner_texts()) == {"openai-google-cloud-partnership.txt"}


def test_a_follow_up_is_read_with_the_conversations_subject(page):
    from playwright.sync_api import expect

    ask(page, "How much is the Stargate project worth?")
    follow = ask(page, "and who is in it?")
    expect(follow.locator(".read-as")).to_have_text("Read as: Who is in Stargate?")
    expect(follow.locator("p.answer")).to_have_text("Oracle and SoftBank")  # the reader saw "Stargate" too


def test_two_files_that_disagree_are_both_shown_each_with_its_file_and_date(page, app):
    from playwright.sync_api import expect

    for year, city, day in ((2019, "Lisbon", datetime(2019, 6, 1, 9)), (2024, "Porto", datetime(2024, 3, 4, 9))):
        name = f"handbook-{year}.txt"
        upload(page, name, f"Office handbook ({year}).\n\nOur head office is in {city}.\n".encode(), f"Added {name}")
        os.utime(app[1] / name, (time.time(), day.timestamp()))  # as if last edited then
    reply = ask(page, "Where is the head office?")
    expect(reply.locator("p.answer")).to_have_text(re.compile("^(Lisbon|Porto)$"))
    note = reply.locator(".disagree")
    expect(note).to_contain_text("Another file says otherwise")
    expect(note.locator("a.cite")).to_have_text(re.compile(r"^handbook-20(19|24)\.txt, line 3$"))
    said = note.inner_text()
    assert re.search(r"handbook-2019\.txt(, line 3)?, changed 1 June 2019", said), said
    assert re.search(r"handbook-2024\.txt(, line 3)?, changed 4 March 2024", said), said
    assert "This answer is from handbook-20" in said


def test_on_a_phone_documents_and_settings_are_behind_a_menu(browser, app):
    """At 390×844 the question box, the examples and the last answer are on the first screen;
    *Search in*, Settings and Documents open from the *Menu* button over the page and close again
    (*Close*, or Escape), and what is chosen there applies to the next question."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(app[0])
        page.locator("#question textarea").wait_for()
        reply = ask(page, "who supplies GPUs in the deal?")
        for part in ("#question textarea", "#ask", "#new-chat", ".examples-label"):
            box = page.locator(part).first.bounding_box()
            assert box["y"] + box["height"] <= 844, part
        expect(reply.locator("p.answer")).to_be_in_viewport()
        panel = [page.locator(part) for part in ("#search-in", "#settings", "#documents-panel")]
        menu, close = page.locator("#intro .menu-button"), page.locator("#menu-head .menu-close")
        expect(menu).to_be_in_viewport()
        expect(menu).to_have_attribute("aria-expanded", "false")
        for part in panel:
            expect(part).to_be_hidden()

        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(close).to_be_focused()
        for part in panel:
            expect(part).to_be_visible()
        expect(page.locator("#documents")).to_contain_text("openai-google-cloud-partnership.txt")
        expect(page.locator("#documents")).to_be_in_viewport()
        close.click()
        for part in panel:
            expect(part).to_be_hidden()
        expect(menu).to_be_focused()
        expect(menu).to_have_attribute("aria-expanded", "false")

        menu.click()
        page.locator("#settings").get_by_text("Settings").first.click()  # the accordion opens inside the menu
        expect(page.locator("#threshold")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#settings")).to_be_hidden()
        expect(reply.locator("p.answer")).to_be_in_viewport()  # the chat is where it was
    finally:
        context.close()


def test_on_a_wide_screen_documents_and_settings_stay_beside_the_chat(page):
    from playwright.sync_api import expect

    expect(page.locator("#intro .menu-button")).to_be_hidden()
    expect(page.locator("#menu-head")).to_be_hidden()
    for part in ("#search-in", "#settings", "#documents-panel"):
        expect(page.locator(part)).to_be_visible()
    chat, side = page.locator("#chat").bounding_box(), page.locator("#side-panel").bounding_box()
    assert side["x"] >= chat["x"] + chat["width"], "the side panel is beside the chat, not under it"


def test_the_document_view_follows_dark_mode(browser, app):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    try:
        view = context.new_page()
        view.goto(app[0] + "document?source=openai-google-cloud-partnership.txt&start=0&end=6")
        background = view.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(11, 15, 25)", background
        assert contrast(view, view.locator("#text")) >= 7
    finally:
        context.close()


# --- 11. the chat survives a reload (browser storage); Copy gives the answer with its citation ------


def test_the_chat_survives_a_reload_and_copy_gives_the_answer_with_its_citation(page, app):
    from playwright.sync_api import expect

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app[0].rstrip("/"))
    reply = ask(page, "who supplies GPUs in the deal?")
    reply.locator(".copy-answer").click()
    expect(reply.locator(".copy-answer")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    cited = reply.locator("p.meta a.cite").inner_text()  # "openai-google-cloud-partnership.txt, line 6"
    assert copied.startswith("CoreWeave\n“") and copied.endswith(f"”\n— {cited}") and "line" in cited
    expect(reply.locator(".copy-text")).to_be_hidden()

    ask(page, "How much is the Stargate project worth?")
    page.wait_for_timeout(1500)  # the chat is written to browser storage after each answer
    page.reload()
    page.locator("#question textarea").wait_for()
    replies = page.locator("#chat .bot.message")
    expect(replies).to_have_count(2, timeout=REFRESH_TIMEOUT_MS)
    expect(replies.first.locator("p.answer")).to_have_text("CoreWeave")
    follow = ask(page, "and who is in it?")  # the conversation's subject came back too
    expect(follow.locator(".read-as")).to_have_text("Read as: Who is in Stargate?")

    page.locator("#new-chat").click()
    expect(page.locator("#chat .message")).to_have_count(0)
    page.wait_for_timeout(1000)
    page.reload()
    page.locator("#question textarea").wait_for()
    page.wait_for_timeout(2000)
    expect(page.locator("#chat .message")).to_have_count(0)  # a new chat is gone for good


# --- the README's screenshots (#24) -------------------------------------------------------------------


def test_the_readme_screenshots_are_taken_by_the_script(browser, app, tmp_path):
    """scripts/screenshots.py takes every picture the README shows, at the sizes it shows them: the
    conversation, the document view, a phone with and without its menu open, and dark mode."""
    import importlib.util

    from PIL import Image, ImageStat

    spec = importlib.util.spec_from_file_location("screenshots", ROOT / "scripts" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    taken = script.take(app[0], tmp_path, browser)

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sizes = {"screenshot.png": (1280, 1250), "document-view.png": (1280, 900), "mobile.png": (390, 844),
             "mobile-menu.png": (390, 844), "dark.png": (1280, 900)}  # fmt: skip
    assert [p.name for p in taken] == list(sizes)
    for path in taken:
        assert re.search(rf"(\]\(|src=\")docs/{re.escape(path.name)}[)\"]", readme), f"the README lacks {path.name}"
        assert (ROOT / "docs" / path.name).is_file()
        with Image.open(path) as image:
            assert image.size == sizes[path.name], path.name

    def brightness(name: str) -> float:
        with Image.open(tmp_path / name) as image:
            return ImageStat.Stat(image.convert("L")).mean[0]

    assert brightness("dark.png") < 80 < 180 < brightness("screenshot.png")
