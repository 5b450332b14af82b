"""The quick check of simple declarations (`declarations.quick_check`): it
may only ever call valid what the JSON Schema validator calls valid, and for
the declarations it covers it must call valid what the validator does, or
it saves nothing. Checked against jsonschema itself on generated values."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from idumb_daemon.storage.declarations import quick_check

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
NUMBER = st.integers(-1000, 1000) | st.floats(-1000, 1000, allow_nan=False)
ANNOTATIONS = st.fixed_dictionaries(
    {},
    optional={
        "description": st.text(max_size=5),
        "default": JSON,
        "deprecated": st.booleans(),
        "scope": st.sampled_from(["any", "user"]),
        "deprecationMessage": st.text(max_size=5),
        "renamedTo": st.text(max_size=5),
    },
)


def covered() -> st.SearchStrategy[dict[str, Any]]:
    """Declarations the quick check covers."""
    numeric = st.fixed_dictionaries(
        {"type": st.sampled_from(["integer", "number"])},
        optional={
            "minimum": NUMBER,
            "maximum": NUMBER,
            "exclusiveMinimum": NUMBER,
            "exclusiveMaximum": NUMBER,
        },
    )
    text = st.fixed_dictionaries(
        {"type": st.just("string")},
        optional={"minLength": st.integers(0, 5), "maxLength": st.integers(0, 5)},
    )
    boolean = st.fixed_dictionaries({"type": st.just("boolean")})
    return st.tuples(numeric | text | boolean, ANNOTATIONS).map(lambda p: {**p[1], **p[0]})


def any_declaration() -> st.SearchStrategy[dict[str, Any]]:
    """Covered ones, and ones with a keyword the quick check must not judge."""
    extra = st.fixed_dictionaries(
        {},
        optional={
            "enum": st.lists(JSON, min_size=1, max_size=3),
            "const": JSON,
            "multipleOf": st.integers(1, 5),
            "minLength": st.integers(0, 5),
            "minimum": NUMBER,
            "pattern": st.just("^a"),
            "format": st.just("email"),
            "not": st.just({"type": "integer"}),
        },
    )
    return st.tuples(covered(), extra).map(lambda p: {**p[0], **p[1]})


@settings(max_examples=400, deadline=None)
@given(declaration=any_declaration(), value=JSON | NUMBER)
def test_the_quick_check_never_calls_valid_what_the_validator_refuses(
    declaration: dict[str, Any], value: Any
) -> None:
    check = quick_check(declaration)
    if check is not None and check(value):
        assert Draft202012Validator(declaration).is_valid(value)


@settings(max_examples=400, deadline=None)
@given(declaration=covered(), value=JSON | NUMBER)
def test_the_quick_check_covers_simple_declarations_and_their_values(
    declaration: dict[str, Any], value: Any
) -> None:
    check = quick_check(declaration)
    assert check is not None
    valid = Draft202012Validator(declaration).is_valid(value)
    if type(value) is not float or declaration["type"] != "integer":
        # An integral float is an integer to JSON Schema; the check leaves
        # those few to the validator.
        assert check(value) == valid


@pytest.mark.parametrize(
    "declaration",
    [
        {"type": ["integer", "null"]},
        {"type": "integer", "enum": [1, 2]},
        {"type": "integer", "multipleOf": 2},
        {"type": "string", "pattern": "^a"},
        {"type": "string", "minimum": 1},  # a bound that does not apply: left to the validator
        {"type": "array"},
        {"type": "integer", "minimum": True},
        {"enum": ["a"]},
        {},
    ],
)
def test_other_declarations_are_left_to_the_validator(declaration: dict[str, Any]) -> None:
    assert quick_check(declaration) is None
