"""E-mail messages (.eml) as text, read by the standard library's ``email``: the headers a person
reads (From, To, Cc, Date, Subject), then the body, plain text when the message has it, else its
HTML read as an .html file is. Attachments are left out. The two parts are cited as ``headers``
and ``body``.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from rag.documents.formats import _TextParser
from rag.documents.parts import Parts
from rag.types import Extracted

MAX_EML_BYTES = 64 * 2**20
HEADERS = ("From", "To", "Cc", "Date", "Subject")


def body_text(part: EmailMessage) -> str:
    """A body part's text, decoded by its charset (an unknown charset read as UTF-8, flaws replaced)."""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        parser = _TextParser()
        try:
            parser.feed(content)
            return parser.text()
        except AssertionError:  # html.parser asserts on some malformed markup
            return ""
    return content


def header(message: EmailMessage, name: str) -> str:
    """A header's value on one line, RFC 2047 words decoded; as written when it cannot be parsed."""
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError, AttributeError):  # email's header parser on a mangled value
        value = next((v for k, v in message.raw_items() if k.lower() == name.lower()), None)
    return "" if value is None else " ".join(str(value).split())


def eml_text(data: bytes) -> Extracted:
    """The message's reading headers as ``Name: value`` lines, a blank line, then its body."""
    if len(data) > MAX_EML_BYTES:
        raise ValueError(f"the message is over {MAX_EML_BYTES >> 20} MB")
    if b"\x00" in data[:8192]:
        raise ValueError("binary file")
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)  # what policy.default makes
    lines = [f"{name}: {value}" for name in HEADERS if (value := header(message, name))]
    if not lines:
        raise ValueError(f"not a valid .eml: it has none of the headers {', '.join(HEADERS)}")
    parts = Parts("message")
    parts.add("\n".join(lines), "headers")
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        parts.add(body_text(body), "body")
    return parts.extracted("the message has no text")
