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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from liquid import BoundTemplate

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
        from audience_sync.campaigns import liquid_engine

        return liquid_engine.render(self.template, variables)


def compile_template(source: str) -> CompiledTemplate:
    """The template, checked in full; TemplateError (with the line) if Liquid cannot parse it."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"a template holds at most {MAX_TEMPLATE_CHARS} characters", None)
    from audience_sync.campaigns import liquid_engine  # on first use: see liquid_engine's docstring

    return CompiledTemplate(source, liquid_engine.parse(source))
