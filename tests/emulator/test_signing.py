"""The pieces of the SDK-HMAC-SHA256 check: header parsing, canonical request, date, HMAC."""

from __future__ import annotations

import random
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fdi_drift.emulator.signing import (
    Authorization,
    MalformedAuthorization,
    canonical_query,
    canonical_request,
    canonical_uri,
    format_sdk_date,
    is_signed,
    parse_authorization,
    parse_sdk_date,
    signature,
    string_to_sign,
)
from tests.emulator.conftest import START

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
HEX = "0123456789abcdef" * 4


def test_canonical_request_of_a_hand_worked_example() -> None:
    """Path, query, trimmed headers, signed names and body hash form the documented six lines."""
    text = canonical_request(
        method="get",
        path="/v2/p/tasks/a b",
        query_string=b"name=%C3%A9&name=a+b&a=&x=%2F&y=%7E",
        headers={"host": " emulator.test ", "x-sdk-date": "20231114T221320Z"},
        signed_headers=("host", "x-sdk-date"),
        body=b"",
    )
    assert text == (
        "GET\n"
        "/v2/p/tasks/a%20b/\n"
        "a=&name=a%2Bb&name=%C3%A9&x=%2F&y=~\n"
        "host:emulator.test\n"
        "x-sdk-date:20231114T221320Z\n"
        "\n"
        "host;x-sdk-date\n"
        f"{EMPTY_SHA256}"
    )


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("", "/"),
        ("/", "/"),
        ("/v2/p/tasks", "/v2/p/tasks/"),
        ("/v2/p/tasks/", "/v2/p/tasks/"),
        ("/a~b/c.d-e_f", "/a~b/c.d-e_f/"),
        ("/é/+/%", "/%C3%A9/%2B/%25/"),
    ],
)
def test_canonical_uri_encodes_each_segment_and_ends_with_a_slash(path: str, uri: str) -> None:
    """Each decoded segment is encoded with only unreserved characters left as they are."""
    assert canonical_uri(path) == uri


def test_repeated_query_keys_stay_and_sort_by_value() -> None:
    """A key given twice appears twice, its values in order, after smaller keys."""
    assert canonical_query(b"b=2&a=z&b=1&a=y") == "a=y&a=z&b=1&b=2"


def test_a_plus_in_the_query_is_a_plus_sign() -> None:
    """The query is percent-decoded only, so a raw `+` stays a plus, not a space."""
    assert canonical_query(b"q=a+b") == canonical_query(b"q=a%2Bb") == "q=a%2Bb"
    assert canonical_query(b"q=a%20b") == "q=a%20b"


def test_a_key_without_value_is_signed_with_an_empty_one() -> None:
    """`flag` and `flag=` both sign as `flag=`; an empty query signs as an empty line."""
    assert canonical_query(b"flag") == canonical_query(b"flag=") == "flag="
    assert canonical_query(b"") == ""


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8)), min_size=1, max_size=5
    ),
    st.randoms(),
)
def test_query_canonical_form_ignores_order_and_spelling(
    pairs: list[tuple[str, str]], shuffler: random.Random
) -> None:
    """However a client orders and percent-encodes its pairs, the canonical query is the same."""
    tight = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    loose_pairs = list(pairs)
    shuffler.shuffle(loose_pairs)
    loose = "&".join(f"{quote(k, safe='~')}={quote(v, safe='~=/')}" for k, v in loose_pairs)
    assert canonical_query(tight.encode()) == canonical_query(loose.encode())


def test_string_to_sign_and_hmac() -> None:
    """The string to sign is three lines; the HMAC matches RFC 4231's test case 2."""
    assert string_to_sign("20231114T221320Z", "") == (
        f"SDK-HMAC-SHA256\n20231114T221320Z\n{EMPTY_SHA256}"
    )
    assert signature("Jefe", "what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_sdk_date_round_trips_in_utc() -> None:
    """X-Sdk-Date is read and written as UTC."""
    assert parse_sdk_date("20231114T221320Z") == START
    assert format_sdk_date(START) == "20231114T221320Z"


@pytest.mark.parametrize(
    "value", ["2023-11-14T22:13:20Z", "20231114T221320", "20231314T221320Z", "", "x" * 16]
)
def test_malformed_sdk_dates_are_refused(value: str) -> None:
    """Any X-Sdk-Date other than a real YYYYMMDDTHHMMSSZ time is a ValueError."""
    with pytest.raises(ValueError):
        parse_sdk_date(value)


def test_authorization_parts_in_any_order_and_spacing() -> None:
    """The three parameters may come in any order with spaces around them."""
    value = f"SDK-HMAC-SHA256  Signature={HEX.upper()} ,Access=AK1,SignedHeaders=host;x-sdk-date"
    assert parse_authorization(value) == Authorization("AK1", ("host", "x-sdk-date"), HEX)


@pytest.mark.parametrize(
    "value",
    [
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256,Access=AK1",
        f"HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature={HEX}",
        f"SDK-HMAC-SHA256 SignedHeaders=host, Signature={HEX}",
        f"SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature={HEX}",
        f"SDK-HMAC-SHA256 Access=AK1, Access=AK2, SignedHeaders=host, Signature={HEX}",
        f"SDK-HMAC-SHA256 Access=AK1, SignedHeaders=Host;x-sdk-date, Signature={HEX}",
        f"SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;;x-sdk-date, Signature={HEX}",
        f"SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;host, Signature={HEX}",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=abc",
        f"SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature={HEX}, Extra=1",
    ],
)
def test_malformed_authorization_is_refused(value: str) -> None:
    """Missing, repeated, empty, unknown or ill-formed parts are MalformedAuthorization."""
    with pytest.raises(MalformedAuthorization):
        parse_authorization(value)


@pytest.mark.parametrize(
    ("value", "signed"),
    [
        (None, False),
        ("", False),
        ("Bearer abc", False),
        ("x", False),
        ("SDK-HMAC-SHA256 Access=AK1", True),
        ("sdk-hmac-sha256 Access=AK1", True),
        ("SDK-HMAC-SHA256,Access=AK1", True),
    ],
)
def test_which_headers_claim_the_scheme(value: str | None, signed: bool) -> None:
    """Only an Authorization value starting with the scheme name is checked as signed."""
    assert is_signed(value) is signed
