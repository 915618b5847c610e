"""Take the README's screenshots of the chat, in Debian's Chromium driven by Playwright.

    python scripts/screenshots.py [--out docs] [--chromium /usr/bin/chromium]

It starts the chat as a user does (``rag ui``) over a fresh copy of ``seeds/`` on a free
port, asks the README's questions and saves, in ``--out``:

- ``screenshot.png``: the conversation at 1280 wide, a follow-up read with its subject, sources open;
- ``document-view.png``: the document view opened from a citation, at the highlighted answer;
- ``mobile.png``: a phone (390×844): the last answer and the question box on the first screen;
- ``mobile-menu.png``: the same phone with its menu open (Search in, Settings, Documents);
- ``dark.png``: the conversation in dark mode (Chromium's ``color_scheme="dark"``).

``tests/test_ui_browser.py`` runs ``take`` against its own server, so a change to the page that
breaks the script fails the tests rather than the next refresh of the pictures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
START_TIMEOUT_S = 180
ANSWER_TIMEOUT_MS = 60_000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SEARCHING = "Searching your documents…"
QUESTIONS = ("who supplies GPUs in the deal?", "How much is the Stargate project worth?", "and who is in it?")
SHOTS = ("screenshot.png", "document-view.png", "mobile.png", "mobile-menu.png", "dark.png")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(work: Path) -> Iterator[str]:
    """``rag ui`` over a copy of ``seeds/`` in ``work``, until the block ends; yields its URL."""
    shutil.copytree(ROOT / "seeds", work / "seeds")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_TEMP_DIR": str(work / "uploads")}
    cmd = [sys.executable, "-m", "rag", "ui", "--docs", "seeds", "--index", "index", "--port", str(port)]
    with open(work / "app.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the chat did not start:\n{(work / 'app.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ask(page: Any, question: str) -> Any:
    """Ask ``question`` and wait for its reply; returns the reply."""
    from playwright.sync_api import expect

    replies = page.locator("#chat .bot.message")
    before = replies.count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    expect(replies).to_have_count(before + 1, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#chat")).not_to_contain_text(SEARCHING, timeout=ANSWER_TIMEOUT_MS)
    return replies.nth(before)


def opened(browser: Any, url: str, viewport: dict[str, int], **options: Any) -> Any:
    """A page of the chat in a fresh browser context (its own session), ready for a question."""
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    page.goto(url)
    page.locator("#question textarea").wait_for()
    page.wait_for_timeout(1000)  # the document list and the fonts come in
    return page


def conversation(page: Any) -> Any:
    """The README's conversation, the last reply's sources open; returns the first reply."""
    replies = [ask(page, q) for q in QUESTIONS]
    replies[-1].locator("details.sources summary").click()
    page.wait_for_timeout(500)
    return replies[0]


def take(url: str, out: Path, browser: Any) -> list[Path]:
    """Every screenshot of the chat at ``url`` into ``out``; returns their paths (``SHOTS``, in order)."""
    out.mkdir(parents=True, exist_ok=True)
    desktop = opened(browser, url, {**DESKTOP, "height": 1250})
    first = conversation(desktop)
    desktop.screenshot(path=str(out / "screenshot.png"))
    with desktop.context.expect_page() as view:
        first.locator("p.meta a.cite").click()
    document = view.value
    document.wait_for_load_state()
    document.set_viewport_size(DESKTOP)
    document.wait_for_timeout(500)
    document.screenshot(path=str(out / "document-view.png"))
    desktop.context.close()

    phone = opened(browser, url, PHONE, is_mobile=True, has_touch=True)
    ask(phone, QUESTIONS[0])
    phone.wait_for_timeout(500)
    phone.screenshot(path=str(out / "mobile.png"))
    phone.locator("#intro .menu-button").click()
    phone.locator("#documents").wait_for()
    phone.wait_for_timeout(500)
    phone.screenshot(path=str(out / "mobile-menu.png"))
    phone.context.close()

    dark = opened(browser, url, DESKTOP, color_scheme="dark")
    conversation(dark)
    dark.screenshot(path=str(out / "dark.png"))
    dark.context.close()
    return [out / name for name in SHOTS]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where to save them (default: docs/)")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM, help="the browser (default: %(default)s)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as work, serving(Path(work)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(args.chromium), args=CHROMIUM_ARGS)
        try:
            for path in take(url, args.out, browser):
                print(path)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
