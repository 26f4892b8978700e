"""Request parsers for the API: DRF's JSON parser behind a nesting-depth check (issue 20).

Kept out of prm/api.py because DRF's settings import the default parser classes while
rest_framework.views is being imported (prm/api.py imports that module)."""

from __future__ import annotations

import io
import re
from itertools import accumulate

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

# How deep a JSON body may nest. Our deepest legitimate body is 3 levels (an object holding a
# list of objects); Python's json parser recurses once per level and a body nested 1,000 deep
# raised RecursionError, a 500 (issue 20).
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKET_STEP)


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in `raw` (a JSON text), without parsing it
    recursively: strings are blanked out, the brackets that are left are counted."""
    brackets = _JSON_STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(_BRACKET_STEP[b] for b in brackets))


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSON parser behind a depth check: a body nested deeper than MAX_JSON_DEPTH is a
    400 parse_error before json.loads sees it (for every endpoint, signed in or not)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if json_depth(raw) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(
                f"JSON parse error - the body is nested deeper than {MAX_JSON_DEPTH} levels."
            )
        return super().parse(io.BytesIO(raw), media_type, parser_context)
