"""Head specs."""

from __future__ import annotations

import pytest

from attndsl.models import HeadSpecError, format_head, parse_heads


def test_specs_name_heads():
    assert parse_heads("0.3,5.*", 6, 4) == [(0, 3), (5, 0), (5, 1), (5, 2), (5, 3)]
    assert parse_heads("*.1, 1.1", 2, 2) == [(0, 1), (1, 1)]
    assert len(parse_heads(None, 30, 9)) == len(parse_heads("*", 30, 9)) == 270
    assert format_head((12, 3)) == "12.3"


@pytest.mark.parametrize(
    "spec, message",
    [
        ("3", "not LAYER.HEAD"),
        ("a.1", "layer 'a' is not a number"),
        ("1.x", "head 'x'"),
        ("30.0", "layer 30 does not exist"),
        ("0.9", "head 9 does not exist"),
        ("1.", "LAYER.HEAD"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(HeadSpecError, match=message):
        parse_heads(spec, 30, 9)
