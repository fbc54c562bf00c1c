"""The canonical JSON profile of audit-log entries: one value, one byte string.

A log entry is hashed into the Merkle tree as bytes, so the same entry must always
encode to the same bytes, in this process, in an auditor's verifier, and in a tool
written in another language. The profile is the I-JSON subset of RFC 8785 (JSON
Canonicalization Scheme) without numbers that are not integers; for every value it
accepts, ``canonical_bytes`` gives exactly what an RFC 8785 implementation gives:

1. Objects have string keys, sorted by their UTF-16 code units (RFC 8785 §3.2.3).
   This differs from Python's code point order only between astral characters and
   U+E000..U+FFFF: "\\U0001F600" (UTF-16 D83D DE00) sorts before "\\uFB33".
2. No whitespace; "," and ":" as separators; UTF-8 output with no BOM.
3. Strings are escaped as ECMAScript ``JSON.stringify`` does (RFC 8785 §3.2.2.2):
   only ``"``, ``\\`` and controls below U+0020, as ``\\b \\t \\n \\f \\r`` or
   ``\\u00xx`` in lower-case hex. Nothing else is escaped: not "/", not non-ASCII.
   Strings must be valid Unicode; lone surrogates are refused.
4. Numbers are integers within +-(2**53 - 1) (I-JSON, RFC 7493 §2.2): a larger
   integer reads back differently in a parser that uses doubles. Floats are refused
   (NaN and infinities with them): no float needs to be in an audit entry, and
   decimal formatting of doubles is where canonical encoders disagree.
5. ``true``, ``false``, ``null``; arrays from ``list`` or ``tuple``.

Only the exact built-in types are accepted, not subclasses: an enum member or a
``str`` subclass would encode as whatever its methods say, so callers write
``kind.value``. Values are refused with the JSON path of the offending value
(``$.withheld[2].code``) and what is wrong with it, never the value itself, which
may be personal data.

``parse_canonical`` is the strict reader: it accepts bytes only if they are the
canonical encoding of what they decode to, so two byte strings that an auditor
treats as the same entry are the same bytes.

Two paths, one answer. The *reference path* (``_reference_canonical_bytes``,
``_reference_parse_canonical``) is the encoder written out from the rules above, in
pure Python; it decides every refusal and writes every error message. The *fast path*
in front of it hands a value to the standard library's C encoder (and bytes to its C
decoder) when a cheap check shows that the result is byte for byte the reference
path's, and otherwise steps aside: it only ever produces bytes, or accepts input, that
the reference path would produce or accept, so it changes speed and nothing else. The
argument is in ``_fast_walk`` and ``_JSON_ENCODER``; tests compare the two paths
exhaustively over code points and on generated values.

Errors::

    ValueError
     └── CanonicalError    value outside the profile, or bytes that are not canonical

No IO here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "MAX_CANONICAL_SIZE",
    "MAX_DEPTH",
    "MAX_SAFE_INTEGER",
    "PLAIN_INT_PATTERN",
    "PLAIN_STRING_PATTERN",
    "CanonicalError",
    "canonical_bytes",
    "parse_canonical",
    "shape_pattern",
]

#: Largest integer magnitude every JSON parser reads back exactly (I-JSON, RFC 7493
#: §2.2; ECMAScript's ``Number.MAX_SAFE_INTEGER``); RFC 8785 numbers are doubles.
MAX_SAFE_INTEGER = 2**53 - 1

#: Most arrays and objects one value may nest. An entry is three or four levels deep;
#: the bound keeps the encoder's recursion, and a verifier reading a hostile export,
#: far from Python's recursion limit, and catches self-referencing lists.
MAX_DEPTH = 32

#: Largest encoding, in bytes. An entry holds codes, field names and 32-byte
#: commitments (a few kilobytes; personal data lives in the evidence store), so this
#: is generous; it bounds what one entry of a hostile export makes a verifier parse.
MAX_CANONICAL_SIZE = 256 * 1024

# RFC 8785 §3.2.2.2: the short forms, then \u00xx in lower-case hex for other controls.
_ESCAPES: dict[int, str] = {code: f"\\u{code:04x}" for code in range(0x20)} | {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    ord('"'): '\\"',
    ord("\\"): "\\\\",
}
_NEEDS_ESCAPE = re.compile('["\\\\\x00-\x1f]')

# Keys written as ".key" in a path; any other key is written as ["key"] in JSON syntax.
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_KEY_IN_PATH = 64  # a path names a key, it does not reproduce a long one


class CanonicalError(ValueError):
    """A value outside the canonical profile, or bytes that are not its canonical encoding.

    ``path`` is the JSON path of the offending value (``$`` for the whole value or for
    input that is not JSON at all); ``problem`` says what is wrong without repeating it.
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class _Refused(Exception):
    """Raised inside the encoder; each level adds its path segment on the way out."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.segments: list[str | int] = []  # innermost first


def _format_path(segments: list[str | int]) -> str:
    parts = ["$"]
    for segment in reversed(segments):
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        elif _PLAIN_KEY.fullmatch(segment):
            parts.append(f".{segment}")
        else:
            # json.dumps escapes to ASCII, so even a key with a lone surrogate prints.
            shown = segment if len(segment) <= _MAX_KEY_IN_PATH else segment[:_MAX_KEY_IN_PATH] + "..."
            parts.append(f"[{json.dumps(shown)}]")
    return "".join(parts)


def _string(text: str, what: str) -> bytes:
    if _NEEDS_ESCAPE.search(text) is not None:
        text = text.translate(_ESCAPES)
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused(f"{what} is not valid Unicode (it holds a lone surrogate)") from None
    return b'"' + encoded + b'"'


def _utf16_order(key: str) -> bytes:
    # Big-endian UTF-16 compares bytewise exactly as its code units compare.
    return key.encode("utf-16-be")


class _Encoder:
    __slots__ = ("parts", "size")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def emit(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > MAX_CANONICAL_SIZE:
            raise _Refused(f"the encoding would exceed MAX_CANONICAL_SIZE ({MAX_CANONICAL_SIZE} bytes)")
        self.parts.append(chunk)

    def value(self, value: object, depth: int) -> None:
        # Exact types, not isinstance: a subclass (an enum member) is refused, and
        # bool, which is an int subclass, is never encoded as a number.
        if type(value) is str:
            self.emit(_string(value, "string"))
        elif type(value) is dict:
            self.encode_object(value, depth + 1)
        elif type(value) is list or type(value) is tuple:
            self.encode_array(value, depth + 1)
        elif value is True:
            self.emit(b"true")
        elif value is False:
            self.emit(b"false")
        elif value is None:
            self.emit(b"null")
        elif type(value) is int:
            if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                raise _Refused("integer outside +-(2**53 - 1); JSON parsers disagree on it (use a string)")
            self.emit(str(value).encode("ascii"))
        else:
            raise _Refused(_unsupported(value))

    def encode_object(self, obj: dict[object, object], depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _Refused(f"nested more than MAX_DEPTH ({MAX_DEPTH}) arrays and objects deep")
        keyed: list[tuple[bytes, str, object]] = []
        for key, item in obj.items():
            if type(key) is not str:
                raise _Refused(f"object key of type {type(key).__name__}; keys must be str")
            try:
                keyed.append((_utf16_order(key), key, item))
            except UnicodeEncodeError:
                raise _Refused("object key is not valid Unicode (it holds a lone surrogate)") from None
        keyed.sort(key=lambda entry: entry[0])
        self.emit(b"{")
        for index, (_, key, item) in enumerate(keyed):
            if index:
                self.emit(b",")
            self.emit(_string(key, "object key"))
            self.emit(b":")
            try:
                self.value(item, depth)
            except _Refused as refused:
                refused.segments.append(key)
                raise
        self.emit(b"}")

    def encode_array(self, items: list[object] | tuple[object, ...], depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _Refused(f"nested more than MAX_DEPTH ({MAX_DEPTH}) arrays and objects deep")
        self.emit(b"[")
        for index, item in enumerate(items):
            if index:
                self.emit(b",")
            try:
                self.value(item, depth)
            except _Refused as refused:
                refused.segments.append(index)
                raise
        self.emit(b"]")


def _unsupported(value: object) -> str:
    if isinstance(value, float):
        return "floats are not in the canonical profile (use an integer or a string)"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes are not JSON (encode them as hex or base64 text)"
    for base in (bool, int, str, dict, list, tuple):
        if isinstance(value, base):
            return (
                f"{type(value).__name__} is a subclass of {base.__name__} (an enum?); "
                f"only a plain {base.__name__} is encoded"
            )
    return f"values of type {type(value).__name__} are not in the canonical profile"


def _reference_canonical_bytes(value: object) -> bytes:
    """``canonical_bytes`` written out from the rules: the reference the fast path must equal."""
    encoder = _Encoder()
    try:
        encoder.value(value, 0)
    except _Refused as refused:
        raise CanonicalError(_format_path(refused.segments), refused.problem) from None
    return b"".join(encoder.parts)


class _RepeatedKey(Exception):
    """An object in the input holds the same key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _RepeatedKey
    return obj


def _reference_parse_canonical(data: bytes) -> Any:
    """``parse_canonical`` written out from the rules: it decides every refusal and its message."""
    if not isinstance(data, bytes):
        raise TypeError(f"parse_canonical takes bytes, not {type(data).__name__}")
    if len(data) > MAX_CANONICAL_SIZE:
        raise CanonicalError("$", f"input is larger than MAX_CANONICAL_SIZE ({MAX_CANONICAL_SIZE} bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalError("$", f"not valid UTF-8 (at byte {exc.start})") from None
    if text.startswith("\ufeff"):
        raise CanonicalError("$", "starts with a byte order mark")
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys)
    except _RepeatedKey:
        raise CanonicalError("$", "an object repeats a key") from None
    except json.JSONDecodeError as exc:
        offset = len(text[: exc.pos].encode("utf-8"))
        raise CanonicalError("$", f"not valid JSON: {exc.msg} (at byte {offset})") from None
    except RecursionError:
        raise CanonicalError(
            "$", f"nested more than MAX_DEPTH ({MAX_DEPTH}) arrays and objects deep"
        ) from None
    except ValueError:
        # The json module's other ValueError is an integer literal too long to convert.
        raise CanonicalError("$", "not valid JSON: a number is too long") from None
    # Floats, NaN, large integers, escaped lone surrogates and deep nesting are all
    # decoded by the json module; re-encoding refuses them with their path.
    encoded = _reference_canonical_bytes(value)
    if encoded != data:
        offset = next(
            (i for i, (a, b) in enumerate(zip(encoded, data, strict=False)) if a != b),
            min(len(encoded), len(data)),
        )
        raise CanonicalError("$", f"not in canonical form (first difference at byte {offset})")
    return value


# --- The fast path ----------------------------------------------------------------------------------

# The standard library's C encoder, set to write the profile. For a value that passes
# ``_fast_walk`` it writes the reference path's output character for character:
# 1. ``sort_keys`` sorts keys by code point, which is RFC 8785's UTF-16 order unless a key
#    holds a character above U+FFFF. Keys are written unescaped, so the callers look for
#    such characters in the output and leave those values to the reference path.
# 2. With ``ensure_ascii=False`` it escapes ``"``, ``\`` and the controls below U+0020,
#    as ``\b \t \n \f \r`` or ``\u00xx`` in lower-case hex, and nothing else: RFC 8785's
#    rule (``test_every_bmp_code_point_escapes_as_the_reference_does`` checks each one).
# 3. An exact ``int`` is written by ``int.__repr__`` as the reference path writes it;
#    ``True``, ``False``, ``None`` as the literals; a tuple as an array.
# 4. A lone surrogate is written through unchanged, so the UTF-8 encoding of the output
#    fails and the reference path refuses the value with its path.
# No circular check: ``_fast_walk`` bounds the depth, which a cycle cannot pass.
_JSON_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False, check_circular=False
)
# ``JSONEncoder.encode`` builds a new C encoder object on every call. This is the one it
# builds (CPython's ``JSONEncoder.iterencode`` passes the same arguments), made once, which
# saves about a microsecond a call. Without the C accelerator the method does the work.
_C_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODER = (
    None
    if _C_MAKE_ENCODER is None
    else _C_MAKE_ENCODER(
        None, _JSON_ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )
)


def _fast_encode(value: Any) -> str:
    """``_JSON_ENCODER.encode(value)``, for a value in the fast profile."""
    if _C_ENCODER is None:
        return _JSON_ENCODER.encode(value)
    return "".join(_C_ENCODER(value, 0))


_NONE_TYPE = type(None)


def _has_astral(utf8: bytes) -> bool:
    """Whether valid UTF-8 ``utf8`` holds a character above U+FFFF: bytes F0..F4 only ever lead one."""
    # An int operand makes ``in`` a memchr; a one-byte bytes operand takes a slower search.
    return not utf8.isascii() and (
        0xF0 in utf8 or 0xF1 in utf8 or 0xF2 in utf8 or 0xF3 in utf8 or 0xF4 in utf8
    )


#: Array items and object members the fast walk visits at most. Each adds at least a byte
#: to the encoding, so a value with more is too large for the reference path anyway; the
#: bound keeps a value that shares sub-values (``[x, x]`` nested 30 deep) from making the
#: walk exponential, where the reference path stops at MAX_CANONICAL_SIZE bytes.
_WALK_BUDGET = MAX_CANONICAL_SIZE


def _fast_walk(value: Any, depth: int, budget: int) -> int:
    """Check ``value`` for the fast path; the budget left, or -1 if the reference path must decide.

    ``depth`` counts the arrays and objects around ``value``. A value passes if it holds
    only the profile's exact types, integers within range and str keys, nested at most
    MAX_DEPTH deep, in at most ``budget`` items. The reference path can still refuse it in
    two ways, both visible in the encoder's output: a lone surrogate, and an encoding over
    MAX_CANONICAL_SIZE. -1 only means "not here": the reference path decides, and says why.
    """
    # One loop per container with the common leaf types tested inline: a function call per
    # leaf would cost more than the C encoder spends on the whole value.
    kind = type(value)
    if kind is dict:
        budget -= len(value)
        if depth >= MAX_DEPTH or budget < 0:
            return -1
        depth += 1
        for key, item in value.items():
            if type(key) is not str:
                return -1
            kind = type(item)
            if kind is str or kind is bool or kind is _NONE_TYPE:
                continue
            if kind is int:
                if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    continue
                return -1
            budget = _fast_walk(item, depth, budget)
            if budget < 0:
                return -1
        return budget
    if kind is list or kind is tuple:
        budget -= len(value)
        if depth >= MAX_DEPTH or budget < 0:
            return -1
        depth += 1
        for item in value:
            kind = type(item)
            if kind is str or kind is bool or kind is _NONE_TYPE:
                continue
            if kind is int:
                if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                    continue
                return -1
            budget = _fast_walk(item, depth, budget)
            if budget < 0:
                return -1
        return budget
    if kind is str or kind is bool or kind is _NONE_TYPE:
        return budget
    if kind is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return budget
    return -1


class _NotFastPath(Exception):
    """Raised by the fast decoder's hooks: the reference path decides this input."""


def _safe_int(digits: str) -> int:
    number = int(digits)  # ValueError past Python's digit limit: the reference path reports it
    if -MAX_SAFE_INTEGER <= number <= MAX_SAFE_INTEGER:
        return number
    raise _NotFastPath


def _no_float(_literal: str) -> Any:
    raise _NotFastPath


# The standard library's C decoder, leaving floats, NaN, infinities and integers beyond
# +-MAX_SAFE_INTEGER to the reference path. Repeated keys are not looked for: text that
# repeats a key is never what the encoder writes for the decoded value (see parse_canonical).
_FAST_DECODER = json.JSONDecoder(parse_int=_safe_int, parse_float=_no_float, parse_constant=_no_float)


def canonical_bytes(value: object) -> bytes:
    """Encode ``value`` in the canonical profile; ``CanonicalError`` names the offending path.

    Accepts ``dict`` with ``str`` keys, ``list``, ``tuple``, ``str``, ``bool``, ``None``
    and ``int`` within +-``MAX_SAFE_INTEGER``, nested at most ``MAX_DEPTH`` deep, with an
    encoding of at most ``MAX_CANONICAL_SIZE`` bytes. Equal to ``rfc8785.dumps(value)``
    for every value accepted.
    """
    if _fast_walk(value, 0, _WALK_BUDGET) >= 0:
        try:
            encoded = _fast_encode(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: the reference path names where it is
        else:
            if len(encoded) <= MAX_CANONICAL_SIZE and not _has_astral(encoded):
                return encoded
    return _reference_canonical_bytes(value)


def parse_canonical(data: bytes) -> Any:
    """Decode ``data``, accepting it only if it is the canonical encoding of what it decodes to.

    Refused with ``CanonicalError``: input over ``MAX_CANONICAL_SIZE``, invalid UTF-8,
    a byte order mark, anything that is not JSON, repeated keys, and any JSON that is not
    byte for byte what ``canonical_bytes`` makes of the decoded value (whitespace,
    unsorted keys, ``\\u0041`` or ``\\/`` escapes, upper-case hex escapes, floats, ``-0``,
    integers beyond +-``MAX_SAFE_INTEGER``, escaped lone surrogates, nesting deeper than
    ``MAX_DEPTH``). Messages give a byte offset or a path, never content.
    """
    if not isinstance(data, bytes):
        raise TypeError(f"parse_canonical takes bytes, not {type(data).__name__}")
    if len(data) <= MAX_CANONICAL_SIZE:
        try:
            text = data.decode("utf-8")
            value, end = _FAST_DECODER.raw_decode(text)
        except (_NotFastPath, ValueError, RecursionError):
            pass  # not JSON, or not JSON the fast path takes: the reference path says which
        else:
            # Accepted here only if the text is what the fast encoder writes for the value
            # it decodes to, under the conditions that make that the reference encoding:
            # 1. exact types, integers in range (the decoder and its hooks), nesting at most
            #    MAX_DEPTH (no more brackets than that, or the full check);
            # 2. no character above U+FFFF in the text, so (the encoder writes them as they
            #    are) none in a key, where code point and UTF-16 order could differ;
            # 3. no lone surrogate: the text is valid UTF-8, and an escaped one would come
            #    back from the encoder unescaped and so differ from the text.
            # The text then repeats no key (distinct keys are written distinctly), so the
            # reference path accepts it too, and decodes it to an equal value.
            if (
                end == len(text)
                and (
                    data.count(b"[") + data.count(b"{") <= MAX_DEPTH
                    or _fast_walk(value, 0, _WALK_BUDGET) >= 0
                )
                and not _has_astral(data)
                and _fast_encode(value) == text
            ):
                return value
    return _reference_parse_canonical(data)


# --- Shape patterns: recognising canonical bytes without decoding them ------------------------------

#: A string whose canonical encoding is its text between quotes: printable ASCII without ``"``
#: or ``\\`` (RFC 8785 escapes nothing else, and ASCII needs no UTF-8 or UTF-16 care). The
#: possessive ``*+`` keeps the match linear. Strings with escapes or non-ASCII text do not
#: match, so whatever uses the pattern leaves them to ``parse_canonical``.
PLAIN_STRING_PATTERN: Final = rb'"[^"\\\x00-\x1f\x80-\xff]*+"'
#: An integer in its canonical form (no ``-0``, no leading zeros) of at most 15 digits, so
#: always within +-``MAX_SAFE_INTEGER`` (2**53 - 1 has 16 digits).
PLAIN_INT_PATTERN: Final = rb"(?:0|-?[1-9][0-9]{0,14})"

_ShapePath = tuple[str | int, ...]


def shape_pattern(value: Any, overrides: Mapping[_ShapePath, bytes] | None = None) -> bytes:
    """A regular expression (bytes) for the canonical encodings of values shaped like ``value``.

    ``value`` must be in the canonical profile (``canonical_bytes`` accepts it). The
    pattern fixes what ``value`` fixes: every object's keys (written as their canonical
    encoding, in ``value``'s canonical order), every array's length, and where ``null``
    stands; it leaves open each string (``PLAIN_STRING_PATTERN``), each integer
    (``PLAIN_INT_PATTERN``) and each boolean. ``overrides`` replaces the pattern at a
    path (a tuple of keys and indexes from the top) by the caller's, which must itself
    match only canonical encodings (a literal, a named group around a narrower pattern).

    The guarantee: bytes that ``fullmatch`` the pattern (with the caller's overrides
    sound) are the canonical encoding of what they decode to, with that shape: structure
    and keys are copied from a canonical encoding, and each open leaf matches only text
    that re-encodes to itself. The caller still bounds the length by
    ``MAX_CANONICAL_SIZE``. ``ValueError`` if ``value`` is outside the profile.
    """
    parts: list[bytes] = []
    _shape(value, (), overrides or {}, parts, 0)
    return b"".join(parts)


def _shape(
    value: Any, path: _ShapePath, overrides: Mapping[_ShapePath, bytes], parts: list[bytes], depth: int
) -> None:
    override = overrides.get(path)
    if override is not None:
        parts.append(override)
        return
    kind = type(value)
    if kind is str:
        parts.append(PLAIN_STRING_PATTERN)
    elif kind is bool:
        parts.append(rb"(?:true|false)")
    elif value is None:
        parts.append(b"null")
    elif kind is int:
        parts.append(PLAIN_INT_PATTERN)
    elif kind is dict:
        if depth >= MAX_DEPTH:
            raise ValueError("nested too deep for the canonical profile")
        members = sorted(value.items(), key=lambda item: _utf16_order(item[0]))
        parts.append(rb"\{")
        for index, (key, item) in enumerate(members):
            if type(key) is not str:
                raise ValueError("object keys must be str")
            if index:
                parts.append(b",")
            parts.append(re.escape(_reference_canonical_bytes(key)) + b":")
            _shape(item, (*path, key), overrides, parts, depth + 1)
        parts.append(rb"\}")
    elif kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            raise ValueError("nested too deep for the canonical profile")
        parts.append(rb"\[")
        for index, item in enumerate(value):
            if index:
                parts.append(b",")
            _shape(item, (*path, index), overrides, parts, depth + 1)
        parts.append(rb"\]")
    else:
        raise ValueError(f"values of type {kind.__name__} are not in the canonical profile")
