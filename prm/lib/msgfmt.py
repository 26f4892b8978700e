"""Compile gettext catalogues (.po -> .mo) in pure Python, for machines without GNU gettext.

`make` uses `manage.py compilemessages` (GNU msgfmt) when it is installed and this otherwise,
so `make run` and `make test` need nothing but Python. It reads what makemessages writes
(msgctxt, msgid, msgid_plural, msgstr, msgstr[n], continued strings, comments) and skips fuzzy
and untranslated entries, like msgfmt. Usage: python -m prm.lib.msgfmt locale/de/LC_MESSAGES/django.po
"""

from __future__ import annotations

import array
import ast
import os
import re
import struct
import sys
from pathlib import Path

_FIELD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")\s*$')


def parse(text: str) -> dict[str, str]:
    """{key: translation} as gettext stores it: key is "ctx\\x04msgid" (or msgid) and, for
    plurals, "msgid\\0msgid_plural" -> "form0\\0form1…"."""
    messages: dict[str, str] = {}
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        fuzzy = False
        current = None
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            if not line or line.startswith("#"):
                continue
            match = _FIELD.match(line)
            if match:
                current = match.group(1)
                fields[current] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and current is not None:
                fields[current] += ast.literal_eval(line)
        if "msgid" not in fields:
            continue
        msgid = fields["msgid"]
        if "msgid_plural" in fields:
            forms = [fields[k] for k in sorted(k for k in fields if k.startswith("msgstr["))]
            key, value = msgid + "\0" + fields["msgid_plural"], "\0".join(forms)
            translated = all(forms)
        else:
            key, value = msgid, fields.get("msgstr", "")
            translated = bool(value)
        if "msgctxt" in fields:
            key = fields["msgctxt"] + "\x04" + key
        # The header (msgid "") is kept even when marked fuzzy: it carries the plural forms.
        if translated and (msgid == "" or not fuzzy):
            messages[key] = value
    return messages


def mo_bytes(messages: dict[str, str]) -> bytes:
    """The GNU .mo layout: header, key and value tables, then the strings (no hash table)."""
    keys = sorted(messages)
    ids = b""
    strs = b""
    offsets = []
    for key in keys:
        k, v = key.encode(), messages[key].encode()
        offsets.append((len(ids), len(k), len(strs), len(v)))
        ids += k + b"\0"
        strs += v + b"\0"
    count = len(keys)
    keystart = 7 * 4 + 16 * count
    valuestart = keystart + len(ids)
    koffsets: list[int] = []
    voffsets: list[int] = []
    for o1, l1, o2, l2 in offsets:
        koffsets += [l1, o1 + keystart]
        voffsets += [l2, o2 + valuestart]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, count, 7 * 4, 7 * 4 + count * 8, 0, 0)
    return header + array.array("i", koffsets + voffsets).tobytes() + ids + strs


def compile_file(po: Path) -> Path:
    mo = po.with_suffix(".mo")
    # Written aside then renamed, so a concurrent reader (a test worker) never sees half a file.
    partial = mo.with_name(f".{mo.name}.{os.getpid()}")
    partial.write_bytes(mo_bytes(parse(po.read_text(encoding="utf-8"))))
    os.replace(partial, mo)
    return mo


def compile_stale(locale_dir: Path) -> list[Path]:
    """Compile every catalogue under `locale_dir` whose .mo is missing or older than its .po."""
    done = []
    for po in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            done.append(compile_file(po))
    return done


if __name__ == "__main__":
    for name in sys.argv[1:]:
        sys.stdout.write(f"compiled {compile_file(Path(name))}\n")
