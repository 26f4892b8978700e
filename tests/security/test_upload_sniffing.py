"""Uploads judged by their bytes (prm/lib/uploads.py, issue 17 §2): the accepted types are
recognised by content whatever the name says, everything else is refused, and a file name is
made safe to store and to send back in a Content-Disposition header."""

from __future__ import annotations

import io
import zipfile

import pytest

from prm.lib import uploads
from prm.lib.uploads import safe_file_name, sniff_content_type
from tests import factories


def _sniff(content: bytes, name: str = "file") -> str | None:
    return sniff_content_type(io.BytesIO(content), name)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (factories.PDF_BYTES, uploads.PDF),
        (factories.PNG_BYTES, uploads.PNG),
        (factories.JPEG_BYTES, uploads.JPEG),
        (factories.ooxml_bytes("docx"), uploads.DOCX),
        (factories.ooxml_bytes("xlsx"), uploads.XLSX),
        (factories.ooxml_bytes("pptx"), uploads.PPTX),
        (b"Plain words.\r\n\tIndented.\f\n", uploads.TEXT),
        ("Grüße, Ärger, naïve café\n".encode(), uploads.TEXT),
        ("Windows-1252: café €\n".encode("cp1252"), uploads.TEXT),
        ("\ufeffUTF-8 with a BOM\n".encode(), uploads.TEXT),
    ],
)
def test_accepted_types_are_recognised_whatever_the_name(content, expected):
    for name in ("", "misleading.exe", "photo.png"):
        assert _sniff(content, name) == expected


def test_text_named_csv_is_csv_and_the_name_decides_nothing_else():
    assert _sniff(b"a,b\n1,2\n", "rows.csv") == uploads.CSV
    assert _sniff(b"a,b\n1,2\n", "rows.txt") == uploads.TEXT
    assert _sniff(factories.PDF_BYTES, "rows.csv") == uploads.PDF
    assert _sniff(b"MZ\x90\x00", "rows.csv") is None


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   \n\t ",
        b"MZ\x90\x00\x03" + b"\x00" * 64,  # a Windows executable
        b"\x7fELF\x02\x01\x01" + b"\x00" * 64,
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"\x1f\x8b\x08\x00" + b"\x00" * 16,  # gzip
        b"<!DOCTYPE html><p>hi</p>",
        b"  <html><body>hi</body></html>",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"<?xml version='1.0'?><root/>",
        b"\xef\xbb\xbf<script>alert(1)</script>",
        b"NUL \x00 inside",
        b"bell \x07 inside",
        b"escape \x1b[31m red",
        b"\x81\x8d\x8f\x90\x9d undefined in cp1252 and invalid UTF-8",
        factories.ooxml_bytes("docx", macro=True),
        b"PK\x03\x04" + b"\x00" * 60,  # a broken archive
    ],
)
def test_everything_else_is_refused(content):
    assert _sniff(content, "harmless.txt") is None


def test_an_archive_that_declares_no_office_main_part_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", '<Types><Default Extension="xml"/></Types>')
        archive.writestr("word/document.xml", "<document/>")
    assert _sniff(out.getvalue(), "letter.docx") is None
    assert _sniff(factories.ooxml_bytes("docx"), "letter.docx") == uploads.DOCX


def test_a_macro_enabled_document_is_refused_by_its_declared_type():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types><Override PartName="/word/document.xml" '
            'ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>',
        )
        archive.writestr("word/document.xml", "<document/>")
    assert _sniff(out.getvalue(), "letter.docx") is None


def test_sniffing_leaves_the_file_at_its_start():
    file = io.BytesIO(factories.ooxml_bytes("xlsx"))
    file.seek(5)
    assert sniff_content_type(file, "q.xlsx") == uploads.XLSX
    assert file.tell() == 0


@pytest.mark.parametrize(
    ("raw", "content_type", "expected"),
    [
        ("proposal.pdf", uploads.PDF, "proposal.pdf"),
        ("Proposal.PDF", uploads.PDF, "Proposal.pdf"),
        ("photo.jpeg", uploads.JPEG, "photo.jpeg"),
        ("photo.JPG", uploads.JPEG, "photo.jpg"),
        ("scan.png", uploads.PDF, "scan.png.pdf"),
        ("report", uploads.DOCX, "report.docx"),
        ("../../etc/passwd", uploads.TEXT, "passwd.txt"),
        ("C:\\Users\\bob\\Desktop\\notes.txt", uploads.TEXT, "notes.txt"),
        ("invoice\u202etxt.exe", uploads.TEXT, "invoicetxt.exe.txt"),
        ('quote"; filename="evil.html', uploads.TEXT, "quote__ filename__evil.html.txt"),
        ("a\r\nContent-Type: text/html\r\n.pdf", uploads.PDF, "html.pdf"),
        ("a\r\nContent-Type: text\r\n.pdf", uploads.PDF, "aContent-Type_ text.pdf"),
        ("tab\there.csv", uploads.CSV, "tabhere.csv"),
        ("  ..hidden  ", uploads.TEXT, "hidden.txt"),
        ("...", uploads.PDF, "attachment.pdf"),
        ("", uploads.PNG, "attachment.png"),
        ("nul.txt", uploads.TEXT, "_nul.txt"),
        ("COM1.pdf", uploads.PDF, "_COM1.pdf"),
        ("x" * 300 + ".pdf", uploads.PDF, "x" * 100 + ".pdf"),
        ("Angebot für Müller.pdf", uploads.PDF, "Angebot für Müller.pdf"),
        ("e\u0301te\u0301.txt", uploads.TEXT, "été.txt"),
        ("price$list%&#.txt", uploads.TEXT, "price_list___.txt"),
    ],
)
def test_file_names_are_made_safe(raw, content_type, expected):
    assert safe_file_name(raw, content_type) == expected


def test_a_safe_name_is_short_and_plain_whatever_comes_in():
    hostile = "/".join(["..", "\x00", "\u202e", '"', "\\", "a" * 500, "b.exe.pdf.html"])
    name = safe_file_name(hostile, uploads.PDF)
    assert len(name) <= 150
    assert name.endswith(".pdf")
    assert not any(ch in name for ch in '/\\"\x00\u202e\r\n;')
