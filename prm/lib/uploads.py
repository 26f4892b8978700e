"""Uploaded files, judged by their bytes: the content type sniffed from the content (never the
name or the browser's header), and a file name that is safe to store and to send back in a
Content-Disposition header. App-agnostic: the attachment service (deals) decides what to do
with the answers.

Accepted types and how each is recognised:

- PDF, PNG, JPEG: their magic numbers (the `filetype` package);
- DOCX, XLSX, PPTX: a ZIP archive whose `[Content_Types].xml` declares the main part of a
  Word document, Excel workbook or PowerPoint presentation (macro-enabled variants and
  templates declare other types, and an archive with a `vbaProject.bin` is refused); only the
  archive's directory and that one small entry are read, nothing else is decompressed;
- plain text and CSV: no magic number, no NUL or other control characters (tab, line feed,
  carriage return and form feed aside), valid UTF-8 (a BOM is allowed) or Windows-1252, and not
  markup (an HTML, SVG or XML document is not plain text). Both are text by content; a text
  file whose name ends in `.csv` is labelled `text/csv`, any other `text/plain`.

Anything else is not accepted (`sniff_content_type` answers None).
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
import zipfile
import zlib
from typing import IO

import filetype

PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
TEXT = "text/plain"
CSV = "text/csv"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"

# content type -> (canonical extension, extensions a name may keep)
ACCEPTED: dict[str, tuple[str, tuple[str, ...]]] = {
    PDF: ("pdf", ("pdf",)),
    PNG: ("png", ("png",)),
    JPEG: ("jpg", ("jpg", "jpeg")),
    TEXT: ("txt", ("txt", "text", "log", "md", "eml")),
    CSV: ("csv", ("csv",)),
    DOCX: ("docx", ("docx",)),
    XLSX: ("xlsx", ("xlsx",)),
    PPTX: ("pptx", ("pptx",)),
}
ACCEPTED_LABELS = "PDF, PNG, JPEG, plain text, CSV, DOCX, XLSX or PPTX"

_HEAD_BYTES = 8192
_OOXML_MAIN = (
    (DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
    (XLSX, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
    (PPTX, "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"),
)
_ZIP_MAX_ENTRIES = 20_000
_CONTENT_TYPES_MAX_BYTES = 1024 * 1024
_MARKUP_STARTS = (
    "<!doctype",
    "<html",
    "<head",
    "<body",
    "<svg",
    "<?xml",
    "<script",
    "<iframe",
    "<!--",
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f")


def _read_all(fileobj: IO[bytes]) -> bytes:
    fileobj.seek(0)
    data = fileobj.read()
    fileobj.seek(0)
    return data


def _ooxml_type(fileobj: IO[bytes]) -> str | None:
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            infos = archive.infolist()
            if len(infos) > _ZIP_MAX_ENTRIES:
                return None
            names = {info.filename for info in infos}
            if "[Content_Types].xml" not in names or any(
                name.lower().endswith("vbaproject.bin") for name in names
            ):
                return None
            info = archive.getinfo("[Content_Types].xml")
            if info.file_size > _CONTENT_TYPES_MAX_BYTES:
                return None
            with archive.open(info) as entry:
                declared = entry.read(_CONTENT_TYPES_MAX_BYTES + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, NotImplementedError,
            zlib.error, EOFError, OSError, ValueError, KeyError):  # fmt: skip
        return None
    finally:
        fileobj.seek(0)
    if len(declared) > _CONTENT_TYPES_MAX_BYTES:
        return None
    text = declared.decode("utf-8", "replace")
    for content_type, main_part in _OOXML_MAIN:
        if f'ContentType="{main_part}"' in text:
            return content_type
    return None


def _decode_text(data: bytes) -> str | None:
    if b"\x00" in data:
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            return None
    if any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text):
        return None
    return text


def _text_type(fileobj: IO[bytes], name: str) -> str | None:
    text = _decode_text(_read_all(fileobj))
    if text is None or not text.strip():
        return None
    if text[:200].lstrip().lower().startswith(_MARKUP_STARTS):
        return None
    return CSV if name.lower().rstrip().endswith(".csv") else TEXT


def sniff_content_type(fileobj: IO[bytes], name: str = "") -> str | None:
    """The accepted content type of the file's bytes, or None. `name` only tells plain text
    from CSV once the content is known to be text. The file is left at position 0."""
    fileobj.seek(0)
    head = fileobj.read(_HEAD_BYTES)
    fileobj.seek(0)
    if not head:
        return None
    kind = filetype.guess(head)
    if kind is not None:
        if kind.mime in (PDF, PNG, JPEG):
            return kind.mime
        if kind.mime in ("application/zip", DOCX, XLSX, PPTX):
            return _ooxml_type(fileobj)
        return None
    if head.startswith(b"PK\x03\x04"):
        return _ooxml_type(fileobj)
    return _text_type(fileobj, name)


# --- Names ----------------------------------------------------------------------------------------

_UNSAFE = re.compile(r'[<>:"/\\|?*;,=\[\]{}`$%&#]')
_SPACES = re.compile(r"\s+")
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])$", re.IGNORECASE)
STEM_MAX = 100


def safe_file_name(name: str, content_type: str) -> str:
    """A name safe to store and to offer for download: the last path component only, no
    control, format (bidirectional overrides) or shell/header-special characters, no leading
    dots, at most 100 characters before the extension, and an extension that matches the
    sniffed type (the type's own is appended when the name's is not one of it)."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/")
    name = posixpath.basename(name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    name = _UNSAFE.sub("_", name)
    name = _SPACES.sub(" ", name).strip(" .")
    canonical, kept = ACCEPTED.get(content_type, ("bin", ()))
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    stem = stem.strip(" .")[:STEM_MAX].rstrip(" .") or "attachment"
    if _WINDOWS_RESERVED.match(stem):
        stem = "_" + stem
    if extension.lower() in kept:
        return f"{stem}.{extension.lower()}"
    if extension:
        stem = f"{stem}.{extension[:10]}"
    return f"{stem}.{canonical}"
