"""Reading PDF pages that have no text layer (scans) with Tesseract OCR.

A page is rendered to a grayscale image with PDFium (``pypdfium2``, a pinned wheel: no system
library needed) and read by the ``tesseract`` command (Debian's ``tesseract-ocr`` package), a
real OCR engine run as a subprocess. Tesseract is optional: without it a scanned page cannot be
read, and the PDF reader says which pages were left out and how to enable OCR.

OCR is slow (seconds a page), and a PDF's text is extracted again whenever its document view is
opened or a citation re-checked, so each page's text is kept in memory by the PDF's hash: the same
bytes always give the same text, as every offset needs.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence

OCR_DPI = 300  # Tesseract reads body text best at about 300 dpi
MAX_OCR_PIXELS = 40_000_000  # a page rendered larger is scaled down (an A0 poster at 300 dpi is 140 MP)
OCR_TIMEOUT_S = 180  # one page; a page that takes longer is refused, not waited on forever
MAX_OCR_PAGES = 2000  # pages of one PDF read by OCR (hours of work beyond that): the rest is refused
CACHED_PAGES = 512  # OCR texts kept in memory (a few KB each)
ENABLE_OCR = "install Tesseract OCR to read them (Debian/Ubuntu: apt-get install tesseract-ocr)"

_cache: OrderedDict[tuple[str, int, str], str] = OrderedDict()
_cache_lock = threading.Lock()
_pdfium_lock = threading.Lock()  # PDFium is not thread-safe; the chat may read two PDFs at once


def tesseract() -> str | None:
    """The ``tesseract`` command's path (``$RAG_TESSERACT`` overrides the name), or None if not installed."""
    return shutil.which(os.environ.get("RAG_TESSERACT", "tesseract"))


def languages() -> str:
    """Tesseract's languages for OCR, ``eng`` unless ``$RAG_OCR_LANG`` says otherwise (``deu+eng``);
    each needs its ``tesseract-ocr-<lang>`` package."""
    return os.environ.get("RAG_OCR_LANG", "eng") or "eng"


def drawn_pages(data: bytes, indices: Sequence[int]) -> list[int]:
    """Those of the 0-based ``indices`` whose page draws anything (an image, a path, a form): a page
    with no text layer and nothing drawn is blank and needs no OCR (nor a warning)."""
    import pypdfium2 as pdfium

    with _pdfium_lock:
        try:
            pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return []  # pypdf read it, PDFium cannot: its textless pages stay unread (and unrendered)
        try:
            drawn = []
            for i in indices:
                try:
                    page = pdf[i]
                except (pdfium.PdfiumError, IndexError):  # a page PDFium cannot load (or count) is not OCRed
                    continue
                try:
                    if next(iter(page.get_objects(max_depth=1)), None) is not None:
                        drawn.append(i)
                finally:
                    page.close()
            return drawn
        finally:
            pdf.close()


def read_pages(data: bytes, indices: Sequence[int]) -> dict[int, str]:
    """The OCR text of each of the 0-based ``indices`` pages, by index. ValueError if Tesseract is
    missing, fails on a page, or there are more pages than ``MAX_OCR_PAGES``."""
    command = tesseract()
    if command is None:
        raise ValueError(f"Tesseract is not installed; {ENABLE_OCR}")
    if len(indices) > MAX_OCR_PAGES:
        raise ValueError(f"{len(indices)} pages without a text layer; OCR reads at most {MAX_OCR_PAGES}")
    digest, lang = hashlib.sha256(data).hexdigest(), languages()
    texts: dict[int, str] = {}
    missing = []
    with _cache_lock:
        for i in indices:
            if (key := (digest, i, lang)) in _cache:
                _cache.move_to_end(key)
                texts[i] = _cache[key]
            else:
                missing.append(i)
    for i, image in _rendered(data, missing):
        texts[i] = _tesseract(command, image, lang, i)
        with _cache_lock:
            _cache[(digest, i, lang)] = texts[i]
            while len(_cache) > CACHED_PAGES:
                _cache.popitem(last=False)
    return texts


def _rendered(data: bytes, indices: Sequence[int]) -> Iterator[tuple[int, bytes]]:
    """Each page rendered as a grayscale PNG at ``OCR_DPI`` (less for a page beyond ``MAX_OCR_PIXELS``),
    one at a time: a long scan is never held as images, and PDFium is free while Tesseract reads."""
    import pypdfium2 as pdfium

    for i in indices:
        with _pdfium_lock:
            pdf = pdfium.PdfDocument(data)
            try:
                page = pdf[i]
                width, height = page.get_size()  # points: 1/72 inch
                scale = OCR_DPI / 72
                if width * height * scale * scale > MAX_OCR_PIXELS:
                    scale = (MAX_OCR_PIXELS / max(width * height, 1.0)) ** 0.5
                image = page.render(scale=scale, grayscale=True).to_pil()
                page.close()
            except (pdfium.PdfiumError, IndexError) as exc:
                raise ValueError(f"page {i + 1} cannot be rendered for OCR ({exc})") from None
            finally:
                pdf.close()
        png = io.BytesIO()
        image.save(png, format="PNG")
        yield i, png.getvalue()


def _tesseract(command: str, image: bytes, lang: str, index: int) -> str:
    """Tesseract's text of one page image, read from stdin. One OpenMP thread: pages are read one at a
    time, and the machine's other cores stay with whoever else needs them."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(
            [command, "stdin", "stdout", "-l", lang, "--psm", "3"],
            input=image,
            capture_output=True,
            timeout=OCR_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ValueError(f"OCR of page {index + 1} took over {OCR_TIMEOUT_S} s") from None
    except OSError as exc:
        raise ValueError(f"Tesseract could not be run ({exc.strerror or exc})") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ValueError(f"OCR of page {index + 1} failed ({why[-1] if why else f'exit {done.returncode}'})")
    return done.stdout.decode("utf-8", "replace")
