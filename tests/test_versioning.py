"""Version order: the SemVer (npm) and PEP 440 (PyPI) string keys held to node-semver and packaging."""

from __future__ import annotations

from typing import Any

import nodesemver
from hypothesis import given
from hypothesis import strategies as st
from packaging.version import InvalidVersion, Version

from mcp_registries.registries.versioning import (
    pep440_key,
    semver_key,
    semver_prerelease,
    sort_pep440,
    sort_semver,
)

from .conftest import PROFILE


def test_sort_semver_unparseable_strings_sink_below_versions() -> None:
    """Strings no SemVer reading accepts are kept, below every version, in a stable order."""
    assert sort_semver(["1.0.0", "banana", "2.0.0", "apple"]) == ["2.0.0", "1.0.0", "banana", "apple"]


def test_sort_pep440_equivalents_and_legacy() -> None:
    """PEP 440 order (epochs, post, dev) first; legacy strings follow in natural order, not by upload date."""
    released = {"2004d": "2013-10-01", "2013d": "2013-09-05", "2005i": "2013-10-01"}
    assert sort_pep440(
        ["1.0", "1!0.1", "1.0.post1", "1.0.dev0", "1.0rc1", "2004d", "2013d", "2005i", "1.0.1"], released
    ) == ["1!0.1", "1.0.1", "1.0.post1", "1.0", "1.0rc1", "1.0.dev0", "2013d", "2005i", "2004d"]


# -- both keys agree with the reference implementations ---------------------------------------

_numbers = st.one_of(st.integers(0, 12), st.integers(0, 10**12))
_identifier = st.one_of(
    _numbers.map(str),
    st.from_regex(r"[0-9A-Za-z-]*[A-Za-z-][0-9A-Za-z-]*", fullmatch=True).filter(lambda s: len(s) <= 12),
    st.sampled_from(["alpha", "beta", "rc", "canary", "next", "a", "b", "0a", "-", "01"]),
)
semver_strings = st.builds(
    lambda core, pre, build: ".".join(map(str, core)) + (f"-{'.'.join(pre)}" if pre else "") + build,
    st.tuples(_numbers, _numbers, _numbers),
    st.lists(_identifier, max_size=4),
    st.sampled_from(["", "+build.7", "+0"]),
)
# Loose legacy spellings node-semver still reads ('1.0.0beta', 'v1.2.3') and strings it does not.
npm_versions = st.one_of(
    semver_strings,
    semver_strings.map(lambda v: "v" + v),
    st.builds(
        lambda a, b: f"{a}beta{b}",
        semver_strings.filter(lambda v: "-" not in v and "+" not in v),
        st.integers(0, 9),
    ),
    st.sampled_from(["banana", "1.0", "latest", "2004d"]),
)


@PROFILE
@given(a=npm_versions, b=npm_versions)
def test_semver_key_orders_as_node_semver(a: str, b: str) -> None:
    """The string sort key compares two versions as node-semver does; what it cannot read sorts below."""

    def parsed(v: str) -> Any:
        try:
            return nodesemver.make_semver(v, loose=True)
        except (ValueError, TypeError):
            return None

    pa, pb = parsed(a), parsed(b)
    mine = (semver_key(a) > semver_key(b)) - (semver_key(a) < semver_key(b))
    if pa is None or pb is None:
        expected = (pa is not None) - (pb is not None) if (pa is None) != (pb is None) else (a > b) - (a < b)
    else:
        expected = pa.compare(pb)
    assert mine == expected, (a, b)
    if pa is not None:
        assert semver_prerelease(a) is bool(pa.prerelease)


_pep440_numbers = st.one_of(st.integers(0, 12), st.integers(0, 10**9)).map(str)
pep440_strings = st.builds(
    lambda epoch, release, pre, post, dev, local: epoch + ".".join(release) + pre + post + dev + local,
    st.sampled_from(["", "1!", "0!", "2!"]),
    st.lists(st.one_of(_pep440_numbers, st.just("0"), st.just("00")), min_size=1, max_size=4),
    st.one_of(
        st.just(""),
        st.builds(
            lambda l, n: l + n,
            st.sampled_from(["a", "b", "rc", "c", "-alpha.", "beta", "pre", "RC"]),
            _pep440_numbers,
        ),
    ),
    st.one_of(
        st.just(""), _pep440_numbers.map(lambda n: ".post" + n), _pep440_numbers.map(lambda n: "-" + n)
    ),
    st.one_of(st.just(""), _pep440_numbers.map(lambda n: ".dev" + n), st.just(".dev")),
    st.one_of(
        st.just(""),
        st.lists(
            st.one_of(_pep440_numbers, st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)),
            min_size=1,
            max_size=3,
        ).map(lambda parts: "+" + ".".join(parts)),
    ),
)
pypi_versions = st.one_of(pep440_strings, st.sampled_from(["2004d", "latest", "1.0-foo-bar", "v1.2"]))


@PROFILE
@given(a=pypi_versions, b=pypi_versions)
def test_pep440_key_orders_as_packaging(a: str, b: str) -> None:
    """The string sort key compares two versions as packaging's Version does, and flags prereleases alike."""

    def parsed(v: str) -> Version | None:
        try:
            return Version(v)
        except InvalidVersion:
            return None

    pa, pb = parsed(a), parsed(b)
    ka, kb = pep440_key(a), pep440_key(b)
    assert (ka is None, kb is None) == (pa is None, pb is None), (a, b)
    if pa is None or pb is None or ka is None or kb is None:
        return
    assert ((ka[0] > kb[0]) - (ka[0] < kb[0])) == ((pa > pb) - (pa < pb)), (a, b)
    assert (ka[1], kb[1]) == (pa.is_prerelease, pb.is_prerelease)
