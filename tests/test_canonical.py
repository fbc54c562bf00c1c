"""The canonical JSON profile: agreement with RFC 8785, refusals, and the strict reader."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from fedgate.audit.canonical import (
    MAX_CANONICAL_SIZE,
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    CanonicalError,
    canonical_bytes,
    parse_canonical,
)

# Any text without lone surrogates: astral characters, controls, quotes, backslashes.
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
_keys = st.one_of(
    _text,
    # Keys on both sides of the UTF-16 / code point ordering difference.
    st.text(st.sampled_from(["\ue000", "\uffff", "\U0001f600", "\U00010000", "a", "\x7f"]), max_size=3),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER),
    _text,
)
_values = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(_keys, children, max_size=5),
    ),
    max_leaves=25,
)
# Values as parse_canonical returns them: lists, never tuples.
_parsed_values = st.recursive(
    _scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(_keys, children, max_size=5)),
    max_leaves=25,
)


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


# --- Agreement with RFC 8785 -----------------------------------------------------------------------


@settings(max_examples=2000)
@given(_values)
def test_bytes_equal_rfc8785(value: Any) -> None:
    """Every value in the profile encodes exactly as the rfc8785 reference implementation encodes it."""
    assert canonical_bytes(value) == rfc8785.dumps(value)


@given(st.dictionaries(_keys, _scalars, max_size=8), st.randoms(use_true_random=False))
def test_bytes_independent_of_key_insertion_order(obj: dict[str, Any], random: Any) -> None:
    """The same dict built in a different insertion order gives the same bytes."""
    items = list(obj.items())
    random.shuffle(items)
    assert canonical_bytes(dict(items)) == canonical_bytes(obj)


@given(st.dictionaries(_keys, _scalars, min_size=1, max_size=8))
def test_nested_key_order_independent(obj: dict[str, Any]) -> None:
    """Reversed insertion order inside a nested object gives the same bytes."""
    reversed_obj = dict(reversed(list(obj.items())))
    assert canonical_bytes({"outer": [obj]}) == canonical_bytes({"outer": [reversed_obj]})


# --- Known answers -----------------------------------------------------------------------------------

_KNOWN_ANSWERS = [
    pytest.param(
        # RFC 8785 §3.2.3 sorting example: U+1F600 (UTF-16 D83D DE00) sorts before U+FB33,
        # although Python's code point order puts it after.
        {
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\U0001f600": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis",
        },
        b'{"\\r":"Carriage Return","1":"One","\xc2\x80":"Control",'
        b'"\xc3\xb6":"Latin Small Letter O With Diaeresis","\xe2\x82\xac":"Euro Sign",'
        b'"\xf0\x9f\x98\x80":"Emoji: Grinning Face","\xef\xac\xb3":"Hebrew Letter Dalet With Dagesh"}',
        id="rfc8785-3.2.3-sorting",
    ),
    pytest.param(
        # RFC 8785 §3.2.2 example without its "numbers" member (floats are outside the profile).
        {"literals": [None, True, False], "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/"},
        b'{"literals":[null,true,false],"string":"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
        id="rfc8785-3.2.2-strings-and-literals",
    ),
    pytest.param(
        {"b": [1, -2, 0], "a": {"d": None, "c": ""}, "": (True,)},
        b'{"":[true],"a":{"c":"","d":null},"b":[1,-2,0]}',
        id="nesting-and-empty-key",
    ),
    pytest.param(
        "\x00\x08\t\n\x0b\x0c\r\x1f\x7f\u2028/\u00e9",
        b'"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\x7f\xe2\x80\xa8/\xc3\xa9"',
        id="control-characters-short-and-lower-hex",
    ),
    pytest.param(
        [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0],
        b"[9007199254740991,-9007199254740991,0]",
        id="integer-bounds",
    ),
    pytest.param(
        {"\ue000": 1, "\U00010000": 2}, b'{"\xf0\x90\x80\x80":2,"\xee\x80\x80":1}', id="astral-first"
    ),
]


@pytest.mark.parametrize(("value", "expected"), _KNOWN_ANSWERS)
def test_known_answers(value: Any, expected: bytes) -> None:
    """Fixed values encode to the literal bytes written out here (two from RFC 8785 itself)."""
    assert canonical_bytes(value) == expected
    assert rfc8785.dumps(value) == expected


# --- Refusals -------------------------------------------------------------------------------------


class _Colour(enum.Enum):
    RED = "red"


class _Level(enum.IntEnum):
    HIGH = 1


class _Text(str):
    pass


_REFUSED = [
    pytest.param({"withheld": [{}, {}, {"code": 1.0}]}, "$.withheld[2].code", "float", id="float"),
    pytest.param({"x": float("nan")}, "$.x", "float", id="nan"),
    pytest.param({"x": float("inf")}, "$.x", "float", id="infinity"),
    pytest.param([MAX_SAFE_INTEGER + 1], "$[0]", "integer", id="int-above-2**53-1"),
    pytest.param([-MAX_SAFE_INTEGER - 1], "$[0]", "integer", id="int-below-minus-2**53-1"),
    pytest.param({"odd key": [10**100]}, '$["odd key"][0]', "integer", id="huge-int-bracket-path"),
    pytest.param({"name": "ab\ud800cd"}, "$.name", "lone surrogate", id="lone-surrogate-value"),
    pytest.param({"a": {"\udfff": 1}}, "$.a", "lone surrogate", id="lone-surrogate-key"),
    pytest.param({1: "x"}, "$", "keys must be str", id="int-key"),
    pytest.param({"a": {None: "x"}}, "$.a", "keys must be str", id="none-key"),
    pytest.param({"a": {_Text("k"): 1}}, "$.a", "keys must be str", id="str-subclass-key"),
    pytest.param({"digest": b"\x00"}, "$.digest", "bytes", id="bytes"),
    pytest.param({"kind": _Colour.RED}, "$.kind", "_Colour", id="enum"),
    pytest.param({"level": _Level.HIGH}, "$.level", "subclass of int", id="int-enum"),
    pytest.param({"s": _Text("x")}, "$.s", "subclass of str", id="str-subclass"),
    pytest.param({"s": {1, 2}}, "$.s", "set", id="set"),
    pytest.param(_nested(MAX_DEPTH + 1), "$" + "[0]" * MAX_DEPTH, "MAX_DEPTH", id="too-deep"),
    pytest.param(["x" * MAX_CANONICAL_SIZE], "$[0]", "MAX_CANONICAL_SIZE", id="too-large"),
]


@pytest.mark.parametrize(("value", "path", "problem"), _REFUSED)
def test_refuses_values_outside_profile(value: Any, path: str, problem: str) -> None:
    """Values outside the profile are refused with the path of the offending value."""
    with pytest.raises(CanonicalError) as caught:
        canonical_bytes(value)
    assert caught.value.path == path
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{path}: ")


def test_refusal_does_not_echo_value() -> None:
    """The error names where the bad value is, not what it is: it may be personal data."""
    secret = "LA123456 Aroha Ngata 1979-03-14"
    with pytest.raises(CanonicalError) as caught:
        canonical_bytes({"subject": [secret, secret + "\ud800"]})
    assert secret not in str(caught.value)
    assert caught.value.path == "$.subject[1]"


def test_long_key_is_shortened_in_path() -> None:
    """A long key in a path is cut short rather than reproduced."""
    key = "k " * 500
    with pytest.raises(CanonicalError) as caught:
        canonical_bytes({key: 1.5})
    assert len(caught.value.path) < 100


def test_self_referencing_list_refused_as_too_deep() -> None:
    """A list that contains itself is refused by the depth limit, not by a RecursionError."""
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(CanonicalError, match="MAX_DEPTH"):
        canonical_bytes(loop)


def test_depth_limit_is_inclusive() -> None:
    """Exactly MAX_DEPTH nested arrays encode; one more is refused."""
    assert canonical_bytes(_nested(MAX_DEPTH)) == b"[" * MAX_DEPTH + b"0" + b"]" * MAX_DEPTH
    with pytest.raises(CanonicalError):
        canonical_bytes(_nested(MAX_DEPTH + 1))


def test_size_limit_is_inclusive() -> None:
    """An encoding of exactly MAX_CANONICAL_SIZE bytes is accepted; one byte more is refused."""
    exact = "x" * (MAX_CANONICAL_SIZE - 2)
    assert len(canonical_bytes(exact)) == MAX_CANONICAL_SIZE
    with pytest.raises(CanonicalError):
        canonical_bytes(exact + "x")


# --- The strict reader ------------------------------------------------------------------------------


@settings(max_examples=500)
@given(_parsed_values)
def test_parse_round_trips(value: Any) -> None:
    """Canonical bytes parse back to the value they encode."""
    assert parse_canonical(canonical_bytes(value)) == value


@pytest.mark.parametrize(("value", "expected"), _KNOWN_ANSWERS)
def test_parse_accepts_known_answers(value: Any, expected: bytes) -> None:
    """The known-answer byte strings are accepted by the strict reader and re-encode unchanged."""
    assert canonical_bytes(parse_canonical(expected)) == expected


_NON_CANONICAL = [
    pytest.param(b' {"a":1}', "canonical form", id="leading-space"),
    pytest.param(b'{"a":1}\n', "canonical form", id="trailing-newline"),
    pytest.param(b'{"a": 1}', "canonical form", id="space-after-colon"),
    pytest.param(b'{"a":1, "b":2}', "canonical form", id="space-after-comma"),
    pytest.param(b'{\n"a":1}', "canonical form", id="newline-inside"),
    pytest.param(b'{"b":1,"a":2}', "canonical form", id="unsorted-keys"),
    pytest.param(b'{"\xee\x80\x80":1,"\xf0\x90\x80\x80":2}', "canonical form", id="code-point-order-keys"),
    pytest.param(b'{"a":1,"a":1}', "repeats a key", id="duplicate-keys"),
    pytest.param(b'{"a":{"b":1,"b":2}}', "repeats a key", id="duplicate-nested-keys"),
    pytest.param(b'{"a":1.5}', "float", id="float"),
    pytest.param(b'{"a":1.0}', "float", id="integral-float"),
    pytest.param(b'{"a":1e3}', "float", id="exponent"),
    pytest.param(b"[NaN]", "float", id="nan"),
    pytest.param(b"[-Infinity]", "float", id="infinity"),
    pytest.param(b"[-0]", "canonical form", id="negative-zero"),
    pytest.param(b"[9007199254740992]", "integer", id="int-above-2**53-1"),
    pytest.param(b"[" + b"9" * 5000 + b"]", "number is too long", id="int-too-long-for-python"),
    pytest.param(b"[01]", "not valid JSON", id="leading-zero"),
    pytest.param(b"[+1]", "not valid JSON", id="plus-sign"),
    pytest.param(b'"\\u0041"', "canonical form", id="unnecessary-escape"),
    pytest.param(b'"\\/"', "canonical form", id="escaped-solidus"),
    pytest.param(b'"\\u001F"', "canonical form", id="upper-case-hex-escape"),
    pytest.param(b'"\\u000a"', "canonical form", id="long-form-of-short-escape"),
    pytest.param(b'"\\u00e9"', "canonical form", id="escaped-non-ascii"),
    pytest.param(b'"\\ud83d\\ude00"', "canonical form", id="escaped-surrogate-pair"),
    pytest.param(b'"\\ud800"', "lone surrogate", id="escaped-lone-surrogate"),
    pytest.param(b'"\xed\xa0\x80"', "UTF-8", id="utf8-encoded-surrogate"),
    pytest.param(b'"\xc0\xaf"', "UTF-8", id="overlong-utf8"),
    pytest.param(b'"\xff"', "UTF-8", id="invalid-utf8"),
    pytest.param(b'\xef\xbb\xbf{"a":1}', "byte order mark", id="bom"),
    pytest.param('{"a":1}'.encode("utf-16-le"), "not valid JSON", id="utf16"),
    pytest.param(b'"a\nb"', "not valid JSON", id="raw-control-character"),
    pytest.param(b"{'a':1}", "not valid JSON", id="single-quotes"),
    pytest.param(b"[1,]", "not valid JSON", id="trailing-comma"),
    pytest.param(b"{}{}", "not valid JSON", id="two-values"),
    pytest.param(b"", "not valid JSON", id="empty"),
    pytest.param(b"TRUE", "not valid JSON", id="upper-case-literal"),
    pytest.param(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "MAX_DEPTH", id="too-deep"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "MAX_DEPTH", id="hostile-depth"),
    pytest.param(b'"' + b"x" * MAX_CANONICAL_SIZE + b'"', "MAX_CANONICAL_SIZE", id="too-large"),
]


@pytest.mark.parametrize(("data", "problem"), _NON_CANONICAL)
def test_parse_rejects_non_canonical_input(data: bytes, problem: str) -> None:
    """Input that is not exactly the canonical encoding of its own value is rejected."""
    with pytest.raises(CanonicalError) as caught:
        parse_canonical(data)
    assert problem in caught.value.problem


def test_parse_reports_offset_of_first_difference() -> None:
    """A non-canonical input is reported with the offset of the first byte that differs."""
    with pytest.raises(CanonicalError, match="at byte 6"):
        parse_canonical(b'{"a":1 ,"b":2}')


def test_parse_names_path_of_refused_value() -> None:
    """A value the profile refuses, found while reading, is reported with its path."""
    with pytest.raises(CanonicalError) as caught:
        parse_canonical(b'{"released":["a",{"amount":2.5}]}')
    assert caught.value.path == "$.released[1].amount"


def test_parse_refuses_str() -> None:
    """Text is not bytes: the reader is for exactly the bytes that were hashed."""
    with pytest.raises(TypeError):
        parse_canonical('{"a":1}')  # type: ignore[arg-type]  # the wrong type is the point


@given(_parsed_values)
def test_parse_rejects_pretty_printed(value: Any) -> None:
    """Any indented rendering of a container is rejected: only the compact form is canonical."""
    pretty = json.dumps(value, indent=1, ensure_ascii=False).encode("utf-8")
    if pretty == canonical_bytes(value):
        return  # scalars and empty containers have no whitespace to add
    with pytest.raises(CanonicalError):
        parse_canonical(pretty)
