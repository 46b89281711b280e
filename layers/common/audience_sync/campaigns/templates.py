"""A webhook campaign's url, headers and body as Braze writes them: Liquid (python-liquid, the maintained engine)
with Braze's personalization tags, checked when a campaign is saved and rendered for each user at send time.

Braze's tags are Liquid with `${name}` placeholders (contract v2 §6):
- `{{${user_id}}}`, `{{${braze_id}}}`, `{{${first_name}}}`, ... : the user's standard fields (`${city}` is the
  profile's `home_city`, `${email_address}` its `email`, `${user_id}` its external id);
- `{{custom_attribute.${tier}}}`, `{{event_properties.${plan}}}`, `{{api_trigger_properties.${coupon}}}`,
  `{{campaign.${api_id}}}`, `{{campaign.${dispatch_id}}}`;
- filters as Liquid has them (`default`, `upcase`, ...), and `{% abort_message() %}` / `{% abort_message('why') %}`,
  which cancels the send (counted `aborted`).
A `${name}` inside Liquid markup is rewritten to a lookup Liquid understands before the template is parsed:
`${first_name}` alone reads the user's fields, `x.${name}` reads `x["name"]` (a name may hold spaces or dashes).
Outside markup `${...}` is text. Undefined names render empty, as Braze's do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from liquid import BoundTemplate, Environment
from liquid.ast import Node
from liquid.exceptions import LiquidError, LiquidSyntaxError
from liquid.stream import TokenStream
from liquid.tag import Tag
from liquid.token import TOKEN_EXPRESSION, TOKEN_TAG, Token

USER = "_user"  # the root a bare `${name}` reads: the user's standard fields
MARKUP = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_PLACEHOLDER = re.compile(r"(\.)?\$\{\s*([^{}]+?)\s*\}")
_ABORT = re.compile(r"\{%(-?)\s*abort_message\s*\((.*?)\)\s*(-?)%\}", re.DOTALL)
MAX_TEMPLATE_CHARS = 100_000  # url, a header or the body


class TemplateError(ValueError):
    """A template Liquid cannot parse: the message names the line (1-based) where Liquid found the problem."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line


class Aborted(Exception):  # Braze's word: the send is aborted (not an error)
    """`abort_message` rendered: the send is cancelled, with the template's reason (may be empty)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def braze_to_liquid(source: str) -> str:
    """Braze's `${name}` placeholders inside Liquid markup as plain Liquid lookups; `abort_message(...)` as a tag."""
    source = _ABORT.sub(lambda m: f"{{%{m[1]} abort_message {m[2].strip()} {m[3]}%}}", source)

    def placeholders(markup: re.Match[str]) -> str:
        def lookup(found: re.Match[str]) -> str:
            name = found[2].replace("\\", "\\\\").replace('"', '\\"')
            return f'["{name}"]' if found[1] else f'{USER}["{name}"]'

        return _PLACEHOLDER.sub(lookup, markup[0])

    return MARKUP.sub(placeholders, source)


@dataclass(frozen=True)
class CompiledTemplate:
    source: str
    template: BoundTemplate

    def render(self, variables: Mapping[str, Any]) -> str:
        """The text for these variables. Raises Aborted (abort_message) and TemplateError (a render-time error, e.g.
        a filter given a value it cannot take)."""
        return render(self.template, variables)


def compile_template(source: str) -> CompiledTemplate:
    """The template, checked in full; TemplateError (with the line) if Liquid cannot parse it."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"a template holds at most {MAX_TEMPLATE_CHARS} characters", None)
    return CompiledTemplate(source, parse(source))


# ---- python-liquid: the environment with Braze's `abort_message` tag, parsing with the line of an error, rendering


class _AbortNode(Node):
    __slots__ = ("reason",)

    def __init__(self, token: Token, reason: str) -> None:
        super().__init__(token)
        self.reason = reason
        self.blank = False

    def __str__(self) -> str:
        return f"{{% abort_message {self.reason!r} %}}"

    def render_to_output(self, context: Any, buffer: TextIO) -> int:
        raise Aborted(self.reason)


class _AbortTag(Tag):
    """`{% abort_message 'reason' %}`: what Braze's `{% abort_message('reason') %}` is rewritten to."""

    name = "abort_message"
    block = False

    def parse(self, stream: TokenStream) -> Node:
        # The parser moves past the token a tag leaves current: the expression if there is one, else the tag's own.
        token = stream.current
        expression = ""
        if stream.peek.kind == TOKEN_EXPRESSION:
            stream.eat(TOKEN_TAG)
            expression = stream.current.value.strip()
        if expression and not re.fullmatch(r"'[^']*'|\"[^\"]*\"", expression):
            raise LiquidSyntaxError("abort_message takes one quoted string, or nothing", token=token)
        return _AbortNode(token, expression[1:-1] if expression else "")


class _Campaigns(Environment):
    """Bounded rendering: a template is the client's, rendered once a send (a loop of a hundred million, or a body
    of gigabytes, is refused when rendering, as an error of that send)."""

    loop_iteration_limit = 10_000
    output_stream_limit = 1_000_000  # characters: more than a webhook body should be
    local_namespace_limit = 100_000


def _environment() -> Environment:
    environment = _Campaigns()
    environment.add_tag(_AbortTag)
    for name in ("include", "render"):  # templates from files: Braze has no such thing, and a campaign no files
        environment.tags.pop(name, None)
    return environment


_ENVIRONMENT = _environment()


def parse(source: str) -> BoundTemplate:
    """`source` (Braze's syntax) parsed; TemplateError with the line if Liquid cannot read it, or it names a filter
    Liquid does not have (Liquid would fail on that only when rendering)."""
    liquid = braze_to_liquid(source)  # the same lines as the source: a line Liquid names is the source's
    try:
        template = _ENVIRONMENT.from_string(liquid)
    except LiquidError as error:
        line = _line(error)
        if line is None:  # Liquid did not say where: the first output that fails alone, or a block left open
            line = next((_line_of(source, m.start()) for m in MARKUP.finditer(source) if _fails_alone(m[0])), None)
        if line is None:
            line = _unclosed_block(source)
        raise TemplateError(_message(error), line) from None
    try:
        filters = template.analyze().filters
    except LiquidError as error:
        raise TemplateError(_message(error), _line(error)) from None
    for name, places in filters.items():
        if name not in _ENVIRONMENT.filters:
            raise TemplateError(f"unknown filter '{name}'", _line_of(liquid, places[0].index))
    return template


def render(template: BoundTemplate, variables: Mapping[str, Any]) -> str:
    try:
        return template.render(**variables)
    except Aborted:
        raise
    except LiquidError as error:
        raise TemplateError(_message(error), _line(error)) from None
    except Exception as error:
        # a filter's own arithmetic on the user's values (`sum` of a string, `floor` of 1e308): that send fails,
        # with the error's kind only (its text may quote the value)
        raise TemplateError(f"the template failed on this user's values ({type(error).__name__})", None) from None


_BLOCK_TAG = re.compile(r"\{%-?\s*(end)?(\w+)")
_BLOCKS = frozenset({"if", "unless", "case", "for", "tablerow", "capture", "comment", "raw"})


def _unclosed_block(source: str) -> int | None:
    """The line of the last block tag (`{% for %}`, `{% if %}`, ...) that no `end` tag closes."""
    opened: list[tuple[str, int]] = []
    for found in _BLOCK_TAG.finditer(source):
        end, name = found[1], found[2]
        if name not in _BLOCKS:
            continue
        if not end:
            opened.append((name, found.start()))
        elif opened and opened[-1][0] == name:
            opened.pop()
    return _line_of(source, opened[-1][1]) if opened else None


def _fails_alone(markup: str) -> bool:
    if markup.startswith("{%"):
        return False  # a block tag alone is incomplete: only outputs can be checked one by one
    try:
        _ENVIRONMENT.from_string(braze_to_liquid(markup))
    except LiquidError:
        return True
    return False


def _line(error: LiquidError) -> int | None:
    token = error.token
    if token is None or token.start_index < 0 or not token.source:
        return None
    return _line_of(token.source, token.start_index)


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _message(error: LiquidError) -> str:
    """Liquid's own message, without the excerpt of the template it appends (a template may hold a secret)."""
    return str(error.args[0]) if error.args else type(error).__name__
