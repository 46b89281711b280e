"""campaigns/templates.py: Braze's Liquid tags rendered as Braze renders them; a template Liquid cannot read is
refused with its line; abort_message cancels a send."""

from __future__ import annotations

import pytest

from audience_sync.campaigns.templates import USER, Aborted, TemplateError, braze_to_liquid, compile_template

LYTICS = (
    '{"braze_id": "{{${braze_id}}}", "email": "{{${email_address} | default: \'\'}}",\n'
    ' "first_name": "{{${first_name}}}", "tier": "{{custom_attribute.${tier}}}"}'
)


def test_the_lytics_body_of_the_seed_renders_the_users_fields() -> None:
    rendered = compile_template(LYTICS).render(
        {USER: {"braze_id": "b1", "first_name": "Ada"}, "custom_attribute": {"tier": "gold"}}
    )
    assert rendered == '{"braze_id": "b1", "email": "",\n "first_name": "Ada", "tier": "gold"}'


def test_every_kind_of_placeholder_and_names_with_spaces() -> None:
    template = compile_template(
        "{{${user_id}}}|{{event_properties.${plan name}}}|{{api_trigger_properties.${coupon}}}|"
        "{{campaign.${api_id}}}/{{campaign.${dispatch_id}}}|{{custom_attribute.${address}.city}}"
    )
    variables = {
        USER: {"user_id": "u1"},
        "event_properties": {"plan name": "pro"},
        "api_trigger_properties": {"coupon": "C10"},
        "campaign": {"api_id": "c1", "dispatch_id": "d1"},
        "custom_attribute": {"address": {"city": "Seoul"}},
    }
    assert template.render(variables) == "u1|pro|C10|c1/d1|Seoul"


def test_unknown_names_render_empty_and_defaults_apply() -> None:
    template = compile_template("Hi {{${first_name} | default: 'there'}}{{custom_attribute.${missing}}}!")
    assert template.render({}) == "Hi there!"


def test_placeholders_outside_liquid_markup_are_text() -> None:
    assert compile_template("cost: ${price}").render({USER: {"price": 1}}) == "cost: ${price}"
    assert braze_to_liquid('{{ a.${b"c} }}') == '{{ a["b\\"c"] }}'


@pytest.mark.parametrize("tag", ["{% abort_message() %}", "{% abort_message('not a vip') %}"])
def test_abort_message_cancels_the_send_with_its_reason(tag: str) -> None:
    template = compile_template(f"{{% if custom_attribute.${{vip}} != true %}}{tag}{{% endif %}}sent")
    assert template.render({"custom_attribute": {"vip": True}}) == "sent"
    with pytest.raises(Aborted) as aborted:
        template.render({"custom_attribute": {"vip": False}})
    assert aborted.value.reason == ("not a vip" if "'" in tag else "")


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        ('{\n  "a": "{{ x | }}"\n}', 2, "expected"),
        ("one\ntwo\n{% nonsense %}", 3, "unexpected tag 'nonsense'"),
        ("{{ 'a' | upcase }}\n{{ 'b' | no_such_filter }}", 2, "unknown filter 'no_such_filter'"),
        ("{% abort_message(42) %}", 1, "one quoted string"),
        ("a\n{% include 'secrets' %}", 2, "unexpected tag 'include'"),
        ("{% render 'x' %}", 1, "unexpected tag 'render'"),
        ("a\n{% for x in y %}\nz", 2, "endfor"),  # a block left open: the line of its opening tag
        ("{% if a %}\n{% for x in y %}{% endfor %}\n{% if b %}{% endif %}", 1, "endif"),
    ],
)
def test_a_template_liquid_cannot_read_is_refused_with_its_line(source: str, line: int, fragment: str) -> None:
    with pytest.raises(TemplateError) as refused:
        compile_template(source)
    assert refused.value.line == line
    assert str(refused.value).startswith(f"line {line}: ") and fragment in str(refused.value)


def test_an_unclosed_block_is_refused_and_the_message_does_not_echo_the_template() -> None:
    with pytest.raises(TemplateError) as refused:
        compile_template("Authorization: Bearer s3cret {% if a %}")
    assert "endif" in str(refused.value) and "s3cret" not in str(refused.value)


def test_rendering_is_bounded() -> None:
    with pytest.raises(TemplateError, match="limit"):
        compile_template("{% for i in (1..100000000) %}x{% endfor %}").render({})


def test_a_template_over_the_size_limit_is_refused() -> None:
    with pytest.raises(TemplateError, match="at most"):
        compile_template("x" * 100_001)
