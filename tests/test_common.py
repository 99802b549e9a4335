"""Shared pure helpers: people, repository URLs, dates and short text."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_registries.models import Person
from mcp_registries.registries.common import (
    address_people,
    browsable_repository,
    iso_utc,
    people,
    person,
    text,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "Barney Rubble <b@rubble.com> (http://barnyrubble.tumblr.com/)",
            Person(name="Barney Rubble", email="b@rubble.com", url="http://barnyrubble.tumblr.com/"),
        ),
        ("Barney Rubble", Person(name="Barney Rubble")),
        ("Barney (http://rubble.com)", Person(name="Barney", url="http://rubble.com")),
        ("<b@rubble.com>", Person(email="b@rubble.com")),
        ("b@rubble.com", Person(email="b@rubble.com")),
        (
            {"name": "Barney", "email": "b@rubble.com", "url": "http://rubble.com"},
            Person(name="Barney", email="b@rubble.com", url="http://rubble.com"),
        ),
        ({"name": "Barney", "web": "http://rubble.com"}, Person(name="Barney", url="http://rubble.com")),
        ({"email": "b@rubble.com"}, Person(email="b@rubble.com")),
        ({}, None),
        ("  ", None),
        (None, None),
        (42, None),
    ],
)
def test_person_npm_shapes(value: Any, expected: Person | None) -> None:
    """npm's person string 'Name <email> (url)', its parts alone, and the object form."""
    assert person(value) == expected


def test_people_tolerates_one_person_and_drops_duplicates() -> None:
    """A single person where a list belongs is a list of one; repeats and junk are dropped."""
    assert people("Jane <j@x.org>") == [Person(name="Jane", email="j@x.org")]
    assert people([{"name": "Jane", "email": "j@x.org"}, "Jane <j@x.org>", None, "Bob"]) == [
        Person(name="Jane", email="j@x.org"),
        Person(name="Bob"),
    ]


@pytest.mark.parametrize(
    ("names", "emails", "expected"),
    [
        (
            None,
            "Ian Cordasco <ian@example.org>, Nate Prewitt <nate@example.org>",
            [
                Person(name="Ian Cordasco", email="ian@example.org"),
                Person(name="Nate Prewitt", email="nate@example.org"),
            ],
        ),
        ("Stuart Bishop", "stuart@example.org", [Person(name="Stuart Bishop", email="stuart@example.org")]),
        (
            "A, B",
            "a@example.org, b@example.org",
            [Person(name="A", email="a@example.org"), Person(name="B", email="b@example.org")],
        ),
        ("A, B", "a@example.org", [Person(name="A", email="a@example.org"), Person(name="B")]),
        ("Jane", "Jane <j@example.org>", [Person(name="Jane", email="j@example.org")]),
        (
            None,
            '"Guido van Rossum, Jukka Lehtosalo" <levkivskyi@example.org>',
            [Person(name="Guido van Rossum, Jukka Lehtosalo", email="levkivskyi@example.org")],
        ),
        ("", "", []),
        (None, None, []),
    ],
)
def test_address_people_core_metadata_pairs(names: Any, emails: Any, expected: list[Person]) -> None:
    """Author/Author-email pairs: comma-separated names and RFC 822 address lists pair up into people."""
    assert address_people(names, emails) == expected


def test_address_people_sets_role() -> None:
    """The role given is carried by every person found."""
    assert address_people("Jane", None, role="maintainer") == [Person(name="Jane", role="maintainer")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("github:u/r", "https://github.com/u/r"),
        ("u/r", "https://github.com/u/r"),
        ("gitlab:u/r", "https://gitlab.com/u/r"),
        ("bitbucket:u/r", "https://bitbucket.org/u/r"),
        ("gist:11081aaa281", "https://gist.github.com/11081aaa281"),
        ("git+https://github.com/u/r.git", "https://github.com/u/r"),
        ("git@github.com:u/r.git", "https://github.com/u/r"),
        ("git://github.com/u/r.git", "https://github.com/u/r"),
        ("git+ssh://git@github.com/u/r.git", "https://github.com/u/r"),
        ("git+ssh://git@github.com:u/r.git", "https://github.com/u/r"),
        ("ssh://git@gitlab.example.com:2222/group/sub/r.git", "https://gitlab.example.com/group/sub/r"),
        ("http://github.com/u/r", "https://github.com/u/r"),
        ("https://github.com/u/r.git#v1.0.0", "https://github.com/u/r"),
        ("https://user:token@github.com/u/r.git", "https://github.com/u/r"),
        ("https://github.com/stub42/pytz.git", "https://github.com/stub42/pytz"),
        (
            {"type": "git", "url": "https://github.com/facebook/react.git", "directory": "packages/react"},
            "https://github.com/facebook/react/tree/HEAD/packages/react",
        ),
        ({"type": "git", "url": "git+https://github.com/u/r.git"}, "https://github.com/u/r"),
        ("svn://svn.example.org/r", None),
        ("not a url", None),
        ("", None),
        ({"url": None}, None),
        (None, None),
    ],
)
def test_browsable_repository_shapes(value: Any, expected: str | None) -> None:
    """Every repository spelling npm and PyPI projects use becomes a browsable https URL, or None."""
    assert browsable_repository(value) == expected


def test_text_short_single_line() -> None:
    """Whitespace collapses, 'UNKNOWN' and blanks are absent, long text is cut with an ellipsis."""
    assert text("Python  HTTP\nfor Humans. ") == "Python HTTP for Humans."
    assert text("UNKNOWN") is None and text("   ") is None and text(3) is None
    cut = text("x" * 400)
    assert cut is not None and len(cut) == 300 and cut.endswith("…")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-04-03T08:36:11.797877Z", "2023-04-03T08:36:11Z"),
        ("2023-05-22T15:12:44", "2023-05-22T15:12:44Z"),
        ("2014-06-02T18:21:07.331Z", "2014-06-02T18:21:07Z"),
        ("2020-01-01T01:30:00+02:00", "2019-12-31T23:30:00Z"),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_iso_utc_normalizes_timestamps(value: Any, expected: str | None) -> None:
    """Upstream timestamps (with or without offset, PyPI's naive `upload_time` is UTC) become ISO 8601 Z."""
    assert iso_utc(value) == expected
