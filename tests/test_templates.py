"""The {{ name }} template language and the typed variable contract: templates are data, render never guesses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptward import InvalidVariable, MissingVariable, TemplateError, UnexpectedVariable
from promptward._templates import (
    Template,
    VariableSpec,
    check_contract,
    parse_contract,
    render_version,
    validate_variables,
)

# --- the language -------------------------------------------------------------------------------------------------


def test_renders_placeholders_with_or_without_spaces() -> None:
    template = Template.parse("Hello {{ name }}, you are {{age}} ({{ name }}).")
    assert template.variables() == ("age", "name")
    assert template.render({"name": "Ann", "age": 41}) == "Hello Ann, you are 41 (Ann)."


def test_backslash_escapes_literal_braces() -> None:
    template = Template.parse(r"JSON looks like \{{ name }} and {{ name }}")
    assert template.variables() == ("name",)
    assert template.render({"name": "x"}) == "JSON looks like {{ name }} and x"


def test_closing_braces_alone_are_literal() -> None:
    assert Template.parse("a }} b").render({}) == "a }} b"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Hi {{ user.name }}", "attribute and item access are not supported"),
        ("Hi {{ user['name'] }}", "attribute and item access are not supported"),
        ("Hi {{ name | upper }}", "calls and filters are not supported"),
        ("Hi {{ __import__('os') }}", "calls and filters are not supported"),
        ("Hi {{ }}", "empty placeholder"),
        ("Hi {{ 2name }}", "is not a variable name"),
        ("Hi {{ a b }}", "is not a variable name"),
        ("line one\nHi {{ name", "line 2, column 4: '{{' is never closed"),
    ],
)
def test_anything_but_a_bare_name_is_rejected_with_its_location(source: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("[", r"\[").replace("(", r"\(").replace("|", r"\|")):
        Template.parse(source)


def test_values_are_never_expanded_again() -> None:
    rendered = Template.parse("{{ a }}").render({"a": "{{ secret }} and {{ a }}"})
    assert rendered == "{{ secret }} and {{ a }}"


def test_render_refuses_to_guess() -> None:
    template = Template.parse("{{ a }} {{ b }}")
    with pytest.raises(MissingVariable, match="'b'"):
        template.render({"a": 1})
    with pytest.raises(UnexpectedVariable, match="'c'"):
        template.render({"a": 1, "b": 2, "c": 3})
    with pytest.raises(InvalidVariable, match=r"'a'.*dict"):
        template.render({"a": {"nested": 1}, "b": 2})


@pytest.mark.parametrize(
    ("value", "text"),
    [("s", "s"), (3, "3"), (2.5, "2.5"), (True, "true"), (False, "false"), (["x", "y"], "x, y"), (None, "")],
)
def test_value_formatting(value: object, text: str) -> None:
    assert Template.parse("[{{ v }}]").render({"v": value}) == f"[{text}]"


def test_chat_templates_render_each_message_and_skip_optional_sections() -> None:
    chat = [
        {"role": "system", "content": "You help with {{ product }}."},
        {"role": "system", "content": "Known facts: {{ facts }}", "when": "facts"},
        {"role": "user", "content": "{{ question }}"},
    ]
    template = Template.parse(chat)
    assert template.is_chat
    assert template.variables() == ("facts", "product", "question")
    with_facts = template.render({"product": "X", "facts": ["a", "b"], "question": "why?"})
    assert with_facts == [
        {"role": "system", "content": "You help with X."},
        {"role": "system", "content": "Known facts: a, b"},
        {"role": "user", "content": "why?"},
    ]
    without = template.render({"product": "X", "facts": None, "question": "why?"})
    assert isinstance(without, list) and [message["role"] for message in without] == ["system", "user"]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ([], "non-empty list"),
        (["hi"], "message 0: a chat message is an object"),
        ([{"role": "user"}], "'content' must be a string"),
        ([{"role": "", "content": "x"}], "'role' must be a non-empty string"),
        ([{"role": "user", "content": "x", "name": "y"}], "unknown keys"),
        ([{"role": "user", "content": "{{ a.b }}"}], "message 0 content, line 1, column 1"),
        ([{"role": "user", "content": "x", "when": "a.b"}], "'when' must name a variable"),
    ],
)
def test_bad_chat_templates(source: Any, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        Template.parse(source)


@given(st.text())
def test_escaping_every_open_brace_renders_the_text_back(text: str) -> None:
    assert Template.parse(text.replace("{{", "\\{{")).render({}) == text


@given(st.text(alphabet=st.characters(blacklist_characters="{\\")))
def test_text_without_braces_is_its_own_rendering(text: str) -> None:
    assert Template.parse(text).render({}) == text


# --- the contract -------------------------------------------------------------------------------------------------


def spec(**fields: Any) -> VariableSpec:
    return VariableSpec.model_validate(fields)


@pytest.mark.parametrize(
    ("fields", "value", "expected"),
    [
        ({"type": "str"}, "hi", "hi"),
        ({"type": "int"}, 3, 3),
        ({"type": "float"}, 3, 3.0),
        ({"type": "float"}, 2.5, 2.5),
        ({"type": "bool"}, False, False),
        ({"type": "enum", "enum": ["a", "b"]}, "b", "b"),
        ({"type": "list[str]"}, ["x"], ["x"]),
        ({"type": "str", "max_length": 3}, "abc", "abc"),
        ({"type": "str", "pattern": "[a-z]+"}, "abc", "abc"),
        ({"type": "list[str]", "pattern": "[a-z]+", "max_length": 2}, ["a", "b"], ["a", "b"]),
    ],
)
def test_values_that_keep_the_contract(fields: dict[str, Any], value: object, expected: object) -> None:
    assert validate_variables({"v": spec(**fields)}, {"v": value}) == {"v": expected}


@pytest.mark.parametrize(
    ("fields", "value", "rule"),
    [
        ({"type": "str"}, 3, "type"),
        ({"type": "int"}, "3", "type"),
        ({"type": "int"}, True, "type"),
        ({"type": "int"}, 2.0, "type"),
        ({"type": "float"}, "2.5", "type"),
        ({"type": "float"}, True, "type"),
        ({"type": "bool"}, 1, "type"),
        ({"type": "list[str]"}, "x", "type"),
        ({"type": "list[str]"}, ["x", 1], "type"),
        ({"type": "enum", "enum": ["a", "b"]}, "c", "enum"),
        ({"type": "str", "max_length": 3}, "abcd", "max_length"),
        ({"type": "list[str]", "max_length": 1}, ["a", "b"], "max_length"),
        ({"type": "str", "pattern": "[a-z]+"}, "abc1", "pattern"),
        ({"type": "list[str]", "pattern": "[a-z]+"}, ["ok", "NO"], "pattern"),
    ],
)
def test_values_that_break_the_contract_name_the_variable_and_rule(
    fields: dict[str, Any], value: object, rule: str
) -> None:
    with pytest.raises(InvalidVariable, match=rf"variable 'v': .*\(rule: {rule}\)") as caught:
        validate_variables({"v": spec(**fields)}, {"v": value})
    assert caught.value.variable == "v"  # type: ignore[attr-defined]
    assert caught.value.rule == rule  # type: ignore[attr-defined]


def test_defaults_required_and_optional() -> None:
    contract = {
        "name": spec(type="str"),
        "tone": spec(type="enum", enum=["warm", "dry"], default="warm"),
        "notes": spec(type="str", required=False),
    }
    assert validate_variables(contract, {"name": "Ann"}) == {"name": "Ann", "tone": "warm", "notes": None}
    with pytest.raises(MissingVariable, match="variable 'name': required"):
        validate_variables(contract, {})
    with pytest.raises(UnexpectedVariable, match="variable 'nmae': not declared"):
        validate_variables(contract, {"name": "Ann", "nmae": "Ann"})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "enum"}, "needs a non-empty 'enum'"),
        ({"type": "str", "enum": ["a"]}, "only type enum"),
        ({"type": "int", "pattern": "[0-9]+"}, "'pattern' applies to str"),
        ({"type": "str", "pattern": "(?=look)ahead"}, "does not compile on RE2"),
        ({"type": "bool", "max_length": 3}, "'max_length'"),
        ({"type": "str", "max_length": 2, "default": "long"}, "max_length"),
        ({"type": "str", "required": "yes"}, "required"),
        ({"type": "str", "secret": True}, "secret"),
        ({"type": "dict"}, "type"),
    ],
)
def test_contracts_that_cannot_work_are_rejected_with_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=r"contract variable 'v'") as caught:
        parse_contract({"v": fields})
    assert message in str(caught.value)


def test_contract_names_must_be_variable_names() -> None:
    with pytest.raises(TemplateError, match="not a variable name"):
        parse_contract({"user.name": {"type": "str"}})


def test_check_contract_rejects_undeclared_and_warns_about_unused() -> None:
    template = Template.parse("{{ a }} {{ b }}")
    with pytest.raises(TemplateError, match=r"undeclared variables \['b'\]"):
        check_contract(template, parse_contract({"a": {"type": "str"}}))
    warnings = check_contract(
        template, parse_contract({"a": {"type": "str"}, "b": {"type": "int"}, "c": {"type": "str"}})
    )
    assert warnings == ["variable 'c' is declared but the template never uses it"]


def test_render_version_validates_then_renders_only_what_the_template_uses() -> None:
    template = Template.parse("Hi {{ name }}")
    contract = parse_contract({"name": {"type": "str", "max_length": 5}, "unused": {"type": "int", "default": 1}})
    assert render_version(template, contract, {"name": "Ann"}) == "Hi Ann"
    with pytest.raises(InvalidVariable, match="max_length"):
        render_version(template, contract, {"name": "Annabelle"})


def test_trusted_flag_and_json_schema() -> None:
    assert spec(type="str", trusted=False).trusted is False
    schema = VariableSpec.model_json_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]["type"]["enum"]) == {"str", "int", "float", "bool", "enum", "list[str]"}
