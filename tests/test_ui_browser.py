"""The chat page in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

The app runs as a subprocess over a temporary copy of seeds/, exactly as a user starts it.
Without /usr/bin/chromium these tests are skipped, except under CI (env CI set), where they fail.
Set UI_SCREENSHOT=docs/screenshot.png to save a screenshot of a real answer.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders import make_pdf
from tests.conftest import ROOT, SEEDS

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
    cmd = [sys.executable, "-m", "ui.app", "--docs", "seeds", "--index", "index", "--port", str(port)]
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
    """Type a question, press Enter, and return the new reply in the chat."""
    from playwright.sync_api import expect

    replies = page.locator("#chat .bot.message")
    before = replies.count()
    send(page, question)
    expect(replies).to_have_count(before + 1, timeout=ANSWER_TIMEOUT_MS)
    return replies.last


def upload(page, name: str, data: bytes, outcome: str, mime: str = "text/plain") -> str:
    """Upload a file through the upload component's file input; waits for ``outcome`` in the status."""
    from playwright.sync_api import expect

    status = page.locator("#upload-status")
    page.locator("#upload input[type=file]").set_input_files(files=[{"name": name, "mimeType": mime, "buffer": data}])
    expect(status).to_contain_text(outcome, timeout=ANSWER_TIMEOUT_MS)
    return status.inner_text()


def test_answer_is_cited_with_its_passage_highlighted(page):
    from playwright.sync_api import expect

    reply = ask(page, "who supplies GPUs in the deal?")

    expect(reply).to_contain_text("CoreWeave")
    expect(reply).to_contain_text(re.compile(r"confidence 0\.\d\d"))
    expect(reply).to_contain_text(re.compile(r"openai-google-cloud-partnership\.txt, characters \d+–\d+"))
    sources = page.locator("#sources")
    expect(sources.locator(".highlighted").first).to_have_text("CoreWeave")
    expect(sources).to_contain_text(re.compile(r"1\. openai-google-cloud-partnership\.txt · characters \d+–\d+"))
    expect(page.locator("#question textarea")).to_have_value("")
    if target := os.environ.get("UI_SCREENSHOT"):
        page.screenshot(path=str(ROOT / target))


def test_abstention_says_not_found_and_still_shows_passages(page):
    from playwright.sync_api import expect

    page.get_by_role("button", name="What is the capital of France?").click()
    reply = page.locator("#chat .bot.message").last
    expect(reply).to_contain_text("Not found in the documents.", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#sources .source").first).to_be_visible()
    expect(page.locator("#sources .highlighted")).to_have_count(0)


def test_uploaded_document_is_answerable_right_away(page, app):
    from playwright.sync_api import expect

    mango = b"Farm diary.\n\nThe Zanzibar mango harvest is led by Amina Juma every March.\n"
    status = upload(page, "../mango harvest.txt", mango, "Added mango-harvest.txt")
    assert "can ask about it now" in status
    assert (app[1] / "mango-harvest.txt").is_file()
    expect(page.locator("#documents")).to_contain_text("mango-harvest.txt")

    reply = ask(page, "Who leads the Zanzibar mango harvest?")

    expect(reply).to_contain_text("Amina Juma")
    expect(reply).to_contain_text("mango-harvest.txt, characters")
    expect(page.locator("#sources .highlighted").first).to_have_text("Amina Juma")


def test_uploaded_pdf_is_answerable_and_cited_with_its_page(page, app):
    from playwright.sync_api import expect

    pdf = make_pdf([["Harbour records of Port Elira."], ["The Port Elira lighthouse was designed by Tomasz Wren."]])
    upload(page, "harbour.pdf", pdf, "Added harbour.pdf", "application/pdf")
    assert (app[1] / "harbour.pdf").read_bytes() == pdf

    reply = ask(page, "Who designed the Port Elira lighthouse?")

    expect(reply).to_contain_text("Tomasz Wren")
    expect(reply).to_contain_text(re.compile(r"harbour\.pdf, page 2, characters \d+–\d+"))
    expect(page.locator("#sources")).to_contain_text(re.compile(r"\d\. harbour\.pdf · page 2 · characters"))
    expect(page.locator("#sources .highlighted").first).to_have_text("Tomasz Wren")


def test_bad_upload_is_refused_and_changes_nothing(page, app):
    before = sorted(p.name for p in app[1].iterdir())

    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00"
    status = upload(page, "photo.txt", png, "Not added photo.txt")
    assert "cannot be read as text (binary file)" in status and "Nothing was changed" in status
    status = upload(page, "report.pdf", b"%PDF-1.7 text", "Not added report.pdf", "application/pdf")
    assert "cannot be read (not a readable PDF" in status and "Nothing was changed" in status
    status = upload(page, "photo.png", png, "Not added photo.png")
    assert "only .txt, .md, .html, .htm, .pdf or .docx files can be added" in status

    assert sorted(p.name for p in app[1].iterdir()) == before


def test_html_in_documents_and_questions_is_shown_as_text(page):
    from playwright.sync_api import expect

    evil = b"Harbour log.\n\n<script>window.__pwned=1</script><b>bold</b> The keeper of Port Elira is Tomasz Wren.\n"
    upload(page, "harbour.md", evil, "Added harbour.md")

    reply = ask(page, '<img src=x onerror="window.__pwned=2"> Who is the keeper of Port Elira?')

    sources = page.locator("#sources")
    expect(sources).to_contain_text("<script>window.__pwned=1</script><b>bold</b>")
    expect(sources.get_by_text("<script>", exact=False).first).to_be_visible()
    expect(page.locator("#chat")).to_contain_text('<img src=x onerror="window.__pwned=2">')
    expect(reply).to_be_visible()
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#sources b, #sources script, #chat img[src='x']").count() == 0


def test_sessions_get_their_own_answers_and_chats(new_page):
    from playwright.sync_api import expect

    first, second = new_page(), new_page()
    send(first, "who supplies GPUs in the deal?")
    send(second, "When did OpenAI finalize the agreement with Google's cloud division?")
    expect(first.locator("#chat .bot.message").last).to_contain_text("CoreWeave", timeout=ANSWER_TIMEOUT_MS)
    expect(second.locator("#chat .bot.message").last).to_contain_text("2025", timeout=ANSWER_TIMEOUT_MS)
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
    or by us (``ui.core.uploaded_file``), and nothing reaches the docs folder."""
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


def test_uploaded_copies_are_deleted_and_one_size_limit_holds(page, app):
    from playwright.sync_api import expect

    uploads = app[1].parent / "uploads"
    upload(page, "kiwi.txt", b"Kiwis are brown and fuzzy.\n", "Added kiwi.txt")
    assert not [p for p in uploads.rglob("*") if p.is_file() and p.name == "kiwi.txt"]
    before = sorted(p.name for p in app[1].iterdir())
    page.locator("#upload input[type=file]").set_input_files(
        files=[{"name": "big.txt", "mimeType": "text/plain", "buffer": b"a" * (5 * 2**20 + 1)}]
    )
    expect(page.get_by_text("exceed the maximum allowed size of 5.0 Mb")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    assert sorted(p.name for p in app[1].iterdir()) == before
