"""The canonical JSON profile: agreement with RFC 8785, refusals, the strict reader, and the fast path."""

from __future__ import annotations

import collections
import enum
import json
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from fedgate.audit.canonical import (
    _JSON_ENCODER,
    _WALK_BUDGET,
    MAX_CANONICAL_SIZE,
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    CanonicalError,
    _fast_encode,
    _fast_walk,
    _has_astral,
    _reference_canonical_bytes,
    _reference_parse_canonical,
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


class _Pair(NamedTuple):
    first: int
    second: int


class _List(list[Any]):
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
    pytest.param({"a": collections.OrderedDict(b=1)}, "$.a", "subclass of dict", id="ordered-dict"),
    pytest.param({"a": _Pair(1, 2)}, "$.a", "subclass of tuple", id="named-tuple"),
    pytest.param([_List()], "$[0]", "subclass of list", id="list-subclass"),
    pytest.param({"a": {True: 1}}, "$.a", "keys must be str", id="bool-key"),
    pytest.param({"a": {1.5: 1}}, "$.a", "keys must be str", id="float-key"),
    pytest.param({"a": {"b": 1, 2: 3}}, "$.a", "keys must be str", id="int-key-after-str-key"),
    pytest.param({"\U0001f600": [1.5]}, '$["\\ud83d\\ude00"][0]', "float", id="float-under-astral-key"),
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


# --- The fast path against the reference path -------------------------------------------------------
#
# canonical_bytes and parse_canonical take the standard library's C encoder and decoder
# when that gives the reference path's answer, and the reference path otherwise. These
# tests hold the two to the same bytes, the same values and the same refusals.


def _encode_outcome(encode: Callable[[object], bytes], value: object) -> tuple[object, ...]:
    try:
        return ("bytes", encode(value))
    except CanonicalError as refused:
        return ("refused", refused.path, refused.problem)


def _parse_outcome(parse: Callable[[bytes], Any], data: bytes) -> tuple[object, ...]:
    try:
        value = parse(data)
    except CanonicalError as refused:
        return ("refused", str(refused))
    # repr tells True from 1, a list from a tuple, and shows key order.
    return ("accepted", repr(value))


_SURROGATES = range(0xD800, 0xE000)
_BMP = [code for code in range(0x10000) if code not in _SURROGATES]


def test_every_bmp_code_point_escapes_as_the_reference_does() -> None:
    """Each character up to U+FFFF, alone in a string, encodes as rfc8785 and the reference path encode it."""
    for code in _BMP:
        text = chr(code)
        expected = rfc8785.dumps(text)
        assert _reference_canonical_bytes(text) == expected, hex(code)
        assert _fast_encode(text).encode("utf-8") == expected, hex(code)
        assert _JSON_ENCODER.encode(text).encode("utf-8") == expected, hex(code)
        assert canonical_bytes(text) == expected, hex(code)


def test_every_astral_code_point_escapes_as_the_reference_does() -> None:
    """All characters above U+FFFF, 4096 to a string, encode as rfc8785 encodes them, fast path too."""
    for start in range(0x10000, 0x110000, 4096):
        text = "".join(map(chr, range(start, start + 4096)))
        expected = rfc8785.dumps(text)
        assert _fast_encode(text).encode("utf-8") == expected, hex(start)
        assert _JSON_ENCODER.encode(text).encode("utf-8") == expected, hex(start)
        assert canonical_bytes(text) == expected, hex(start)


def test_every_bmp_code_point_as_a_key_sorts_and_escapes_as_rfc8785() -> None:
    """Objects keyed by every character up to U+FFFF, 256 at a time and in reverse, encode as rfc8785's."""
    for start in range(0, len(_BMP), 256):
        keys = [chr(code) for code in reversed(_BMP[start : start + 256])]
        obj = {key: index for index, key in enumerate(keys)}
        assert canonical_bytes(obj) == _fast_encode(obj).encode("utf-8") == rfc8785.dumps(obj), hex(
            ord(keys[-1])
        )


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({"\ufb33": 1, "\U0001f600": 2}, id="astral-and-private-use-keys"),
        pytest.param({"a": {"\uffff": 1, "\U00010000": 2}}, id="nested"),
        pytest.param({"\U0001f600": 1, "\U0001f601": 2, "\U00010000\uffff": 3}, id="astral-only"),
        pytest.param({"k": "\U0001f600", "\ue000": 0}, id="astral-value-only"),
    ],
)
def test_keys_where_utf16_and_code_point_order_differ(obj: dict[str, Any]) -> None:
    """Keys that sort differently by UTF-16 and by code point encode in RFC 8785's order, and read back."""
    assert canonical_bytes(obj) == rfc8785.dumps(obj) == _reference_canonical_bytes(obj)
    assert parse_canonical(rfc8785.dumps(obj)) == obj


# Everything the fast path has to refuse or hand on: floats, big integers, enum members,
# subclasses, bytes, sets, lone surrogates, keys of other types, astral keys.
_nasty_text = st.one_of(
    st.text(st.characters(), max_size=6),  # any code point, lone surrogates included
    st.lists(
        st.sampled_from(["a", "\ud800", "\udfff", "\U0001f600", "\ue000", "\uffff", '"']), max_size=4
    ).map("".join),
)
_hostile_keys = st.one_of(
    _keys,
    _nasty_text,
    st.sampled_from([1, 0, None, True, 1.5, _Text("k"), (1, "a"), b"k"]),
)
_hostile_scalars = st.one_of(
    _scalars,
    _nasty_text,
    st.integers(),
    st.floats(),
    st.sampled_from(
        [
            *(MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, 10**100, _Colour.RED, _Level.HIGH, _Text("x")),
            *(b"\x00", frozenset({1}), collections.OrderedDict(a=1), _List([1]), _Pair(1, 2)),
        ]
    ),
)
_hostile_values = st.recursive(
    _hostile_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(_hostile_keys, children, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=3000)
@given(st.one_of(_values, _hostile_values))
def test_fast_path_equals_reference_path(value: Any) -> None:
    """For any value, in the profile or not, canonical_bytes gives the reference's bytes or refusal."""
    assert _encode_outcome(canonical_bytes, value) == _encode_outcome(_reference_canonical_bytes, value)


@given(st.integers(0, 3), st.booleans())
def test_fast_path_depth_limit_equals_reference(slack: int, siblings: bool) -> None:
    """Values around MAX_DEPTH, nested through objects and arrays, are encoded or refused alike."""
    value: Any = "leaf"
    for level in range(MAX_DEPTH - 2 + slack):
        value = {f"k{level}": value, "z": [1]} if level % 2 else ([0, value, True] if siblings else [value])
    assert _encode_outcome(canonical_bytes, value) == _encode_outcome(_reference_canonical_bytes, value)
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    assert _parse_outcome(parse_canonical, data) == _parse_outcome(_reference_parse_canonical, data)


def test_shared_subvalues_are_not_cycles() -> None:
    """The same list referred to twice is encoded twice; only a cycle is refused."""
    shared = [1, 2]
    assert canonical_bytes({"a": shared, "b": shared}) == b'{"a":[1,2],"b":[1,2]}'


def test_shared_subvalues_cannot_make_encoding_exponential() -> None:
    """A list holding itself twice, 30 deep, is refused as too large, as the reference refuses it."""
    value: Any = "x"
    for _ in range(30):
        value = [value, value]  # 2**30 leaves, from 30 small lists
    outcome = _encode_outcome(canonical_bytes, value)
    assert outcome == _encode_outcome(_reference_canonical_bytes, value)
    assert "MAX_CANONICAL_SIZE" in str(outcome[2])


@pytest.mark.parametrize(
    "items", [MAX_CANONICAL_SIZE // 2 - 1, MAX_CANONICAL_SIZE // 2, MAX_CANONICAL_SIZE + 1]
)
def test_many_items_around_the_size_limit_equal_reference(items: int) -> None:
    """Arrays with about as many items as the size limit allows are encoded or refused alike."""
    value = [0] * items
    assert _encode_outcome(canonical_bytes, value) == _encode_outcome(_reference_canonical_bytes, value)


def test_fast_encoder_equals_the_json_module() -> None:
    """The encoder object made once writes what ``JSONEncoder.encode`` writes, on a realistic entry."""
    entry: dict[str, Any] = {
        "kind": "disclosure",
        "withheld": [{"category": "warrant", "field": "offence", "code": "FG-NEED-TO-KNOW"}],
        "legal_basis": ({"mou_id": "MOU-1", "statute_refs": ["Te Ture Pirihimana 2008 w\u0101hanga 9"]},),
        "released": {"records": 2, "fields": {"warrant": ["status"]}, "commitment": None},
        "emergency": False,
        "seq": MAX_SAFE_INTEGER,
        '\x00"\\': "\u2028\x7f",
    }
    assert _fast_encode(entry) == _JSON_ENCODER.encode(entry)
    assert _fast_encode(entry).encode("utf-8") == rfc8785.dumps(entry) == canonical_bytes(entry)


def test_realistic_entry_takes_the_fast_path() -> None:
    """An entry as the gateway writes it passes the fast walk, so the C encoder writes its bytes."""
    entry: dict[str, Any] = {
        "kind": "disclosure",
        "seq": 41,
        "time": "2025-03-01T12:34:56.789012Z",
        "v": 1,
        "subject": {"kind": "person", "identifier_kinds": ["passport"], "tags": ["ab" * 32]},
        "legal_basis": [{"mou_id": "MOU-1", "clause": "4.2", "statute_refs": ["Act s 1"]}],
        "justification": None,
        "emergency": False,
    }
    assert _fast_walk(entry, 0, _WALK_BUDGET) >= 0
    assert not _has_astral(_fast_encode(entry).encode("utf-8"))
    assert canonical_bytes(entry) == _fast_encode(entry).encode("utf-8") == rfc8785.dumps(entry)


@pytest.mark.parametrize(
    ("text", "astral"),
    [
        pytest.param("plain", False, id="ascii"),
        pytest.param("\u00e9\u20ac\ufb33\uffff", False, id="bmp"),
        pytest.param("a\U00010000", True, id="first-astral"),
        pytest.param("\U0001f600", True, id="emoji"),
        pytest.param("\U000e0001", True, id="plane-14"),
        pytest.param("\U0010ffff", True, id="last-code-point"),
    ],
)
def test_has_astral_finds_characters_above_ffff(text: str, astral: bool) -> None:
    """The UTF-8 check for characters above U+FFFF finds each plane's and misses the BMP's."""
    assert _has_astral(text.encode("utf-8")) is astral


@st.composite
def _candidate_inputs(draw: st.DrawFn) -> bytes:
    """Canonical bytes, or canonical bytes with one change that an attacker or a bug might make."""
    value = draw(_parsed_values)
    data = _reference_canonical_bytes(value)
    change = draw(
        st.sampled_from(
            ["none", "insert", "delete", "replace", "ascii-escapes", "unsorted", "spaced", "pair"]
        )
    )
    if change == "ascii-escapes":
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"), sort_keys=True).encode()
    if change == "unsorted":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    if change == "spaced":
        return json.dumps(value, ensure_ascii=False, sort_keys=True).encode()
    if change == "pair":
        # An object repeating a key, or a member whose value is a float or an escaped key.
        member = draw(st.sampled_from([b'"a":1,"a":1', b'"a":1.0', b'"\\u0061":1', b'"a":-0', b'"a":1e2']))
        return b"{" + member + b"}" if b"{" not in data else data.replace(b"{", b"{" + member + b",", 1)
    if change == "none":
        return data
    at = draw(st.integers(0, len(data)))
    if change == "delete":
        return data[:at] + data[at + 1 :]
    piece = draw(
        st.sampled_from(
            [
                *(b" ", b"\n", b",", b"\\", b'"', b"0", b"-", b".", b"e", b"[", b"]", b"{", b"}", b":"),
                *(b"\\u0041", b"\\/", b"\\u00e9", b"\\ud800", b"\\ud83d\\ude00", b"\\u001F", b"\\u000a"),
                *(b"\xc3\xa9", b"\xf0\x9f\x98\x80", b"\xed\xa0\x80", b"\xff", b"\xef\xbb\xbf", b"\x00"),
            ]
        )
    )
    return data[:at] + piece + data[at + (change == "replace") :]


@settings(max_examples=2000)
@given(_candidate_inputs())
def test_fast_reader_equals_reference_reader(data: bytes) -> None:
    """On canonical and near-canonical bytes, parse_canonical accepts and refuses as the reference does."""
    assert _parse_outcome(parse_canonical, data) == _parse_outcome(_reference_parse_canonical, data)


@pytest.mark.parametrize(("data", "problem"), _NON_CANONICAL)
def test_fast_reader_refuses_as_reference(data: bytes, problem: str) -> None:
    """Each known non-canonical input is refused by the fast reader with the reference's exact message."""
    outcome = _parse_outcome(parse_canonical, data)
    assert outcome == _parse_outcome(_reference_parse_canonical, data)
    assert problem in str(outcome[1])


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'{"\xf0\x9f\x98\x80":1,"\xef\xac\xb3":2}', id="astral-key-first"),
        pytest.param(b'{"\xef\xac\xb3":2,"\xf0\x9f\x98\x80":1}', id="astral-key-in-code-point-order"),
        pytest.param(b'["\xf0\x9f\x98\x80"]', id="astral-value"),
        pytest.param(
            b'{"a":[' + b"[" * (MAX_DEPTH - 2) + b"]" * (MAX_DEPTH - 2) + b"]}", id="exactly-max-depth"
        ),
        pytest.param(b'{"a":[' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"]}", id="one-too-deep"),
        pytest.param(b"[" + b"[]," * 40 + b"[]]", id="many-shallow-arrays"),
        pytest.param(b'["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', id="brackets-inside-a-string"),
        pytest.param(b"[9007199254740991,-9007199254740991]", id="integer-bounds"),
        pytest.param(b"[-9007199254740992]", id="integer-below-bound"),
        pytest.param(b'"\\u001f\\b"', id="control-escapes"),
        pytest.param(b'{"a":1} ', id="trailing-space"),
        pytest.param(b"-0", id="bare-negative-zero"),
    ],
)
def test_fast_reader_edge_cases_equal_reference(data: bytes) -> None:
    """Inputs at the edges of the fast reader's own checks are decided as the reference decides them."""
    assert _parse_outcome(parse_canonical, data) == _parse_outcome(_reference_parse_canonical, data)
