"""Reading a data literal out of a JavaScript source file, without running it.

Privacy Badger keeps its public suffix table and its first-party groups as
JavaScript object and array literals (with `//` comments, trailing commas and
single- or double-quoted strings). This module finds the literal that follows
a marker such as `export default` or `multiDomainFirstPartiesArray =` and turns
it into Python values; anything that is not plain data is an error naming the
file and the position.
"""

import json
import re
from pathlib import Path

from runner.errors import UserError

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_$][\w$]*)
  | (?P<punct>[\[\]{}:,;=().])
    """,
    re.VERBOSE | re.DOTALL,
)

_WORDS = {"true": True, "false": False, "null": None}


def _tokens(text: str, where: str):
    pos = 0
    end = len(text)
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None:
            raise UserError(f"{where}: cannot read the JavaScript at offset {pos}")
        kind = match.lastgroup
        if kind not in ("space", "comment"):
            yield kind, match.group(), pos
        pos = match.end()


def _string_value(token: str) -> str:
    if token[0] == '"':
        return json.loads(token)
    # A single-quoted string: swap the quoting so that JSON can decode it.
    body = token[1:-1].replace("\\'", "'").replace('"', '\\"')
    return json.loads(f'"{body}"')


class _Parser:
    def __init__(self, tokens, where: str):
        self.tokens = tokens
        self.where = where
        self.i = 0

    def fail(self, what: str):
        pos = self.tokens[self.i][2] if self.i < len(self.tokens) else "end"
        raise UserError(f"{self.where}: {what} at offset {pos}; expected a plain data literal")

    def next(self):
        if self.i >= len(self.tokens):
            self.fail("the literal ends early")
        token = self.tokens[self.i]
        self.i += 1
        return token

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None, None)

    def value(self):
        kind, text, _ = self.next()
        if kind == "string":
            return _string_value(text)
        if kind == "number":
            return json.loads(text)
        if kind == "name" and text in _WORDS:
            return _WORDS[text]
        if text == "[":
            return self.array()
        if text == "{":
            return self.object()
        self.i -= 1
        self.fail(f"unexpected {text!r}")

    def array(self):
        items = []
        while True:
            if self.peek()[1] == "]":
                self.i += 1
                return items
            items.append(self.value())
            kind, text, _ = self.next()
            if text == "]":
                return items
            if text != ",":
                self.i -= 1
                self.fail(f"unexpected {text!r} in an array")

    def object(self):
        result = {}
        while True:
            kind, text, _ = self.next()
            if text == "}":
                return result
            if kind == "string":
                key = _string_value(text)
            elif kind in ("name", "number"):
                key = text
            else:
                self.i -= 1
                self.fail(f"unexpected {text!r} as an object key")
            if self.next()[1] != ":":
                self.i -= 1
                self.fail("missing ':' after an object key")
            result[key] = self.value()
            kind, text, _ = self.next()
            if text == "}":
                return result
            if text != ",":
                self.i -= 1
                self.fail(f"unexpected {text!r} in an object")


def literal_after(path: Path, markers: list[list[str]]):
    """The data literal that follows the first occurrence of one of `markers`.

    Each marker is a token sequence, e.g. `["export", "default"]` or
    `["multiDomainFirstPartiesArray", "="]`; the literal starts at the next token.
    """
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{where}: cannot read it ({e})") from None
    tokens = list(_tokens(text, where))
    texts = [token[1] for token in tokens]
    for marker in markers:
        width = len(marker)
        for start in range(len(texts) - width + 1):
            if texts[start : start + width] == marker:
                parser = _Parser(tokens, where)
                parser.i = start + width
                return parser.value()
    wanted = " or ".join(" ".join(marker) for marker in markers)
    raise UserError(f"{where}: no data literal after {wanted!r}")
