"""Stage 1, documents in: a docs folder's files found safely and read as text, the text their offsets refer to.

``folder`` finds the files (never one outside the docs folder) and marks page chrome; ``formats``
turns a file's bytes into text by kind (.txt/.md as stored, .html, .pdf, .docx) and owns the one list of
kinds read (``DOC_SUFFIXES``); the kinds with a module of their own are ``office`` (.pptx), ``sheets``
(.xlsx, .csv), ``ebook`` (.epub), ``opendocument`` (.odt) and ``mail`` (.eml), which build their text
with ``parts`` (place labels: slide, row, chapter, heading) and open zips within ``archive``'s bounds.
"""

from rag.documents.folder import check_docs_dir, file_text, path_of, scan

__all__ = ["check_docs_dir", "file_text", "path_of", "scan"]
