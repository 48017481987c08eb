"""Tests for secret references: recognising, checking, parsing and building them."""

from __future__ import annotations

from typing import Any

import pytest

from fdi_drift.drift.secret_ref import (
    make_reference,
    parse_reference,
    placeholder,
    reference_of,
    reference_problems,
)
from fdi_drift.errors import SecretError


@pytest.mark.parametrize(
    ("value", "reference"),
    [
        ({"secretRef": "db/pw"}, "db/pw"),
        ({"secretRef": "not a reference"}, "not a reference"),  # its syntax is checked apart
        ({"secretRef": "db/pw", "other": 1}, None),
        ({"secretRef": 1}, None),
        ({"secret": "db/pw"}, None),
        ("db/pw", None),
        (["db/pw"], None),
    ],
)
def test_a_reference_is_a_mapping_of_secret_ref_alone_to_a_string(
    value: Any, reference: str | None
) -> None:
    """Only `{secretRef: "..."}` holds a reference; anything else holds none."""
    assert reference_of(value) == reference


@pytest.mark.parametrize("reference", ["db/pw", "kafka-prod/sasl.password", "A_1/k.e-y_2"])
def test_parse_reference_gives_name_and_key(reference: str) -> None:
    """NAME/KEY splits at its one "/"."""
    name, key = parse_reference(reference)
    assert f"{name}/{key}" == reference


@pytest.mark.parametrize(
    "reference", ["nokey", "a/b/c", "/b", "a/", "../etc", "a/..", ".a/b", "a/_b", "a b/c", "é/k"]
)
def test_parse_reference_refuses_anything_but_name_slash_key(reference: str) -> None:
    """A part must start with a letter or digit and hold only letters, digits, '.', '_', '-'."""
    with pytest.raises(SecretError, match="is not NAME/KEY"):
        parse_reference(reference)


def test_reference_problems_name_each_bad_reference_by_pointer() -> None:
    """A mapping with more than secretRef, or a reference that is not NAME/KEY, is a problem."""
    spec = {
        "ok": {"secretRef": "db/pw"},
        "crowded": {"secretRef": "db/pw", "x": 1},
        "a/b": [{"secretRef": "_db/pw"}, {"secretRef": 3}],
    }
    assert list(reference_problems(spec, "/spec")) == [
        ("/spec/crowded", "a secretRef mapping holds nothing else"),
        ("/spec/a~1b/0/secretRef", "must be NAME/KEY"),
        ("/spec/a~1b/1/secretRef", "must be NAME/KEY"),
    ]


@pytest.mark.parametrize(
    ("name", "key", "reference"),
    [
        ("orders", "task_detail.password", "orders/task_detail.password"),
        ("a b", "x/y", "a_b/x_y"),
        ("_job", "endpoint.db_password", "x_job/endpoint.db_password"),
        ("-job", "", "x-job/x"),
    ],
)
def test_made_references_are_ones_the_resolver_accepts(name: str, key: str, reference: str) -> None:
    """Unsafe characters become '_', and a part not starting with a letter or digit gets an 'x'."""
    made = make_reference(name, key)
    assert made == reference
    parse_reference(made)
    assert reference_of(placeholder(made)) == made
