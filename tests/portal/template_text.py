"""Finding text in templates that is not marked for translation (used by test_translations).

Template comments, script/style bodies, {% translate %} tags and {% blocktranslate %} blocks
are removed, every other template tag and variable is blanked, and what is left is parsed as
HTML: a text node, or a user-visible attribute, that still contains a letter is untranslated.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# The partner-facing templates (manager-only pages stay English; see README "Languages").
PARTNER_TEMPLATES = (
    "base.html",
    "home.html",
    "account/",
    "portal/",
    "partners/",
    "rewards/earnings.html",
    "rewards/_earnings_summary.html",
    "errors/",
    "emails/",
    "mfa/",
)
VISIBLE_ATTRIBUTES = {"placeholder", "title", "aria-label", "alt"}
# Names, not words: the product's name is the same in every language.
ALLOWED = {"Dealbridge"}
# Literals in tags that are codes, not words (base.html: a message's CSS class).
NOT_TEXT = {"info"}
LETTER = re.compile(r"[^\W\d_]")

_COMMENT_BLOCK = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S)
_COMMENT = re.compile(r"{#.*?#}", re.S)
_BLOCKTRANS = re.compile(
    r"{%\s*blocktrans(?:late)?\b.*?%}.*?{%\s*endblocktrans(?:late)?\s*%}", re.S
)
_TRANS = re.compile(r"{%\s*trans(?:late)?\s.*?%}", re.S)
_TAG = re.compile(r"{%.*?%}|{{.*?}}", re.S)
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1>", re.S | re.I)


def partner_templates() -> list[Path]:
    paths: list[Path] = []
    for entry in PARTNER_TEMPLATES:
        path = TEMPLATES / entry
        if entry.endswith("/"):
            paths += sorted(p for p in path.rglob("*") if p.suffix in (".html", ".txt"))
        else:
            paths.append(path)
    return paths


def _strip(source: str) -> str:
    source = _COMMENT_BLOCK.sub("", source)
    source = _COMMENT.sub("", source)
    source = _BLOCKTRANS.sub("", source)
    source = _TRANS.sub("", source)
    source = _SCRIPT.sub("", source)
    return _TAG.sub("", source)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def _check(self, text: str) -> None:
        text = " ".join(text.split())
        words = " ".join(word for word in text.split() if word not in ALLOWED)
        if LETTER.search(words):
            self.found.append(text)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and name in VISIBLE_ATTRIBUTES:
                self._check(value)
            if value and name == "value" and tag == "input" and ("type", "submit") in attrs:
                self._check(value)

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self._check(data)


# Text passed as a literal inside a tag: `|default:"never"` and `{% include ... with x="…" %}`
# (`_("…")` there is marked; a literal is shown as it is).
_DEFAULT_LITERAL = re.compile(r"\|default(?:_if_none)?:(\"([^\"]*)\"|'([^']*)')")
_INCLUDE = re.compile(r"{%\s*include\b.*?%}", re.S)
_WITH_LITERAL = re.compile(r"\b\w+=(\"([^\"]*)\"|'([^']*)')")


def _tag_literals(source: str) -> list[str]:
    source = _COMMENT_BLOCK.sub("", _COMMENT.sub("", source))
    texts = [m.group(2) or m.group(3) or "" for m in _DEFAULT_LITERAL.finditer(source)]
    for tag in _INCLUDE.findall(source):
        _, _, arguments = tag.partition(" with ")
        texts += [m.group(2) or m.group(3) or "" for m in _WITH_LITERAL.finditer(arguments)]
    found = []
    for text in texts:
        if text.startswith("/") or text in NOT_TEXT:
            continue  # a path, or a CSS class / code that is never shown as words
        words = " ".join(word for word in text.split() if word not in ALLOWED)
        if LETTER.search(words):
            found.append(" ".join(text.split()))
    return found


def untranslated(source: str) -> list[str]:
    """The untranslated texts of one template's source."""
    collector = _Collector()
    collector.feed(_strip(source))
    collector.close()
    return collector.found + _tag_literals(source)


def untranslated_in_partner_templates() -> dict[str, list[str]]:
    result = {}
    for path in partner_templates():
        found = untranslated(path.read_text())
        if found:
            result[str(path.relative_to(TEMPLATES))] = found
    return result
