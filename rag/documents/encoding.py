"""Which text encoding a file's bytes are in, decided the way people's files need it.

Plain text (.txt, .md) is UTF-8 when it is valid UTF-8 (or carries a byte-order mark); otherwise
a detector (charset-normalizer) decides among the encodings people actually save text in
(Latin-1/windows-125x, KOI8, Shift_JIS, GB18030, Big5, UTF-16 without a BOM...). HTML follows the
HTML standard's sniffing order: a byte-order mark, then ``<meta charset>``, then the detector,
then windows-1252, the web's last resort. Offsets always index the decoded text, and decoding is
deterministic (same bytes, same text), so a citation can be checked by decoding again.

Each decoder returns the text and the encoding's name as people know it (``windows-1252``,
``UTF-16LE``), which the index records and the document view shows.
"""

from __future__ import annotations

import codecs
import re

TEXT_BOMS = (  # (mark, codec, name); longest first: a UTF-32LE mark starts like a UTF-16LE one
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32LE"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32BE"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),  # kept in the text (offsets index the file as stored); never content
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16BE"),
)
SNIFF_BYTES = 8192  # NULs in the first 8 KB mean binary data (or UTF-16 without a mark)
META_BYTES = 4096  # how far <meta charset> is looked for (the standard says 1024; pages put it later)
MAX_DETECTED_BYTES = 64 * 2**20  # larger files are read only as UTF-8 (they stream; a guessed one is decoded whole)
META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)

# Encodings the detector may choose: what text files and pages are really saved in. An open choice
# lets it call a short Latin-1 text EBCDIC (cp037) or Urdu (cp1006); these are its plausible rivals.
DETECTABLE = (
    "cp1252", "iso8859_15", "cp1250", "cp1251", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257", "cp1258",
    "iso8859_2", "iso8859_5", "iso8859_7", "koi8_r", "koi8_u", "mac_roman", "cp437", "cp850", "cp874",
    "shift_jis", "cp932", "euc_jp", "iso2022_jp", "gb18030", "big5", "cp949", "euc_kr",
    "utf_16_le", "utf_16_be", "utf_32_le", "utf_32_be",
)  # fmt: skip
CHAOS_TIE = 0.02  # candidates this close to the detector's best are equally likely: windows-1252 wins

# Labels whose bytes browsers decode with another codec (WHATWG Encoding Standard, "encodings").
WHATWG_CODEC = {
    "latin_1": "cp1252", "iso8859_1": "cp1252", "ascii": "cp1252", "iso8859_9": "cp1254",
    "tis_620": "cp874", "iso8859_11": "cp874", "gb2312": "gb18030", "gbk": "gb18030",
    "euc_kr": "cp949", "ks_c_5601_1987": "cp949", "shift_jis": "cp932", "big5": "big5hkscs",
}  # fmt: skip
# The names people know encodings by (the WHATWG names), for the index and the document view.
NAMES = {
    "utf_8": "UTF-8", "utf_8_sig": "UTF-8", "utf_16": "UTF-16", "utf_16_le": "UTF-16LE", "utf_16_be": "UTF-16BE",
    "utf_32": "UTF-32", "utf_32_le": "UTF-32LE", "utf_32_be": "UTF-32BE", "cp1252": "windows-1252",
    "cp1250": "windows-1250", "cp1251": "windows-1251", "cp1253": "windows-1253", "cp1254": "windows-1254",
    "cp1255": "windows-1255", "cp1256": "windows-1256", "cp1257": "windows-1257", "cp1258": "windows-1258",
    "cp874": "windows-874", "cp932": "Shift_JIS", "shift_jis": "Shift_JIS", "euc_jp": "EUC-JP",
    "iso2022_jp": "ISO-2022-JP", "gb18030": "GB18030", "big5": "Big5", "big5hkscs": "Big5", "cp949": "EUC-KR",
    "euc_kr": "EUC-KR", "koi8_r": "KOI8-R", "koi8_u": "KOI8-U", "mac_roman": "macintosh", "cp437": "IBM437",
    "cp850": "IBM850",
}  # fmt: skip


def name_of(codec: str) -> str:
    """The name people know ``codec`` by (``cp1252`` -> ``windows-1252``)."""
    normal = codecs.lookup(codec).name.replace("-", "_")
    return NAMES.get(normal, normal.replace("iso8859_", "ISO-8859-").replace("_", "-"))


def _whatwg_1252(error: UnicodeError) -> tuple[str, int]:
    """windows-1252 as browsers decode it: the five bytes Python leaves undefined (0x81, 0x8D, 0x8F,
    0x90, 0x9D) are the C1 controls of the same number, so decoding never fails."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(chr(b) for b in error.object[error.start : error.end]), error.end


codecs.register_error("rag-whatwg-1252", _whatwg_1252)


def decode_1252(data: bytes) -> str:
    """``data`` as windows-1252, the web's last resort (never fails)."""
    return data.decode("cp1252", errors="rag-whatwg-1252")


def bom_codec(data: bytes) -> tuple[str, str] | None:
    """The codec a byte-order mark at the start of ``data`` names, and the encoding's name; or None."""
    return next(((codec, name) for bom, codec, name in TEXT_BOMS if data.startswith(bom)), None)


def utf16_without_bom(data: bytes) -> str | None:
    """``utf-16-le`` or ``-be`` when ``data`` looks like UTF-16 text with no byte-order mark: mostly
    Latin-script characters, so one byte of each pair is NUL and the other almost never is."""
    sample = data[:SNIFF_BYTES]
    if len(data) % 2 or len(sample) < 4:
        return None
    half = len(sample) // 2
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    for zeros, other, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros >= 0.3 * half and other <= 0.02 * half:
            return codec
    return None


def detect(data: bytes) -> str | None:
    """The codec charset-normalizer finds ``data`` to be in, among ``DETECTABLE``; windows-1252 when
    it is as likely as the best (a short Latin-1 text fits a dozen code pages). None if none fits."""
    from charset_normalizer import from_bytes

    matches = from_bytes(data, cp_isolation=list(DETECTABLE))
    best = matches.best()
    if best is None:
        return None
    for match in matches:
        if match.chaos <= best.chaos + CHAOS_TIE and "cp1252" in match.could_be_from_charset:
            return "cp1252"
    return best.encoding


def decode_text(data: bytes) -> tuple[str, str]:
    """A plain-text file's text and its encoding's name: a byte-order mark's encoding, else UTF-8 when
    the bytes are valid UTF-8, else UTF-16 without a mark, else what the detector finds. ValueError
    (with a reason) for binary data or bytes no encoding fits."""
    marked = bom_codec(data)
    if marked:
        codec, name = marked
        try:
            return data.decode(codec), name
        except UnicodeDecodeError as exc:
            raise ValueError(f"not valid {name} (byte {exc.start})") from None
    if b"\x00" in data[:SNIFF_BYTES]:
        codec = utf16_without_bom(data)
        if codec is None:
            raise ValueError("binary file")
        try:
            return data.decode(codec), name_of(codec)
        except UnicodeDecodeError:
            raise ValueError("binary file") from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as exc:
        bad = exc.start
    if len(data) > MAX_DETECTED_BYTES:
        raise ValueError(too_large_to_detect(len(data), bad))
    codec = detect(data)
    if codec is None:
        raise ValueError(f"not UTF-8 (byte {bad}) nor any other text encoding found")
    try:
        return data.decode(codec), name_of(codec)
    except UnicodeDecodeError:
        raise ValueError(f"not UTF-8 (byte {bad}) nor any other text encoding found") from None


def too_large_to_detect(size: int, bad: int) -> str:
    return (
        f"not UTF-8 (byte {bad}), and at {size / 2**20:.0f} MB too large to guess its encoding "
        f"(limit {MAX_DETECTED_BYTES >> 20} MB); convert it to UTF-8"
    )


def declared_codec(data: bytes) -> str | None:
    """The codec an HTML page's ``<meta charset>`` (or ``http-equiv`` content type) declares, as
    browsers map its label; None when it declares none, or nothing Python decodes text with. A page
    cannot declare itself UTF-16 in ASCII bytes: browsers read that label as UTF-8."""
    match = META_CHARSET.search(data[:META_BYTES])
    if not match:
        return None
    try:
        name = codecs.lookup(match.group(1).decode("ascii")).name.replace("-", "_")
        "".encode(name)  # LookupError for codecs that are not text encodings (base64, rot13...)
    except (LookupError, UnicodeDecodeError):
        return None
    if name.startswith(("utf_16", "utf_32")):
        return "utf-8"
    return WHATWG_CODEC.get(name, name)


def decode_html(data: bytes) -> tuple[str, str]:
    """An HTML page's markup and its encoding's name, sniffed as the HTML standard says: a byte-order
    mark, then ``<meta charset>`` (if the bytes are valid in it), then UTF-8 when valid, then the
    detector, then windows-1252. Never fails on bytes (binary data is refused by the caller)."""
    marked = bom_codec(data)
    if marked and marked[0] != "utf-32":  # HTML knows no UTF-32 mark
        codec, name = marked
        return data.decode("utf-8-sig" if codec == "utf-8" else codec, errors="replace"), name
    declared = declared_codec(data)
    if declared == "cp1252":
        return decode_1252(data), "windows-1252"
    if declared:
        try:
            return data.decode(declared), name_of(declared)
        except UnicodeDecodeError:
            pass  # a page that lies about its encoding (often UTF-8 declared, windows-1252 saved)
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    codec = detect(data) if len(data) <= MAX_DETECTED_BYTES else None
    if codec:
        try:
            return data.decode(codec), name_of(codec)
        except UnicodeDecodeError:
            pass
    return decode_1252(data), "windows-1252"
