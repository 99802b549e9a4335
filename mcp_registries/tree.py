"""`tree`: a resolution (tree_npm / tree_pypi) as the answer an agent reads: ordered, paginated, summarised.

Packages come by depth, then name, then version; the page is the caller's; licenses are counted over
every package, names resolved to several versions listed, unresolved edges listed. A default answer keeps
to the text budget by listing fewer rows of its page and saying how many it left out and how to get
them (a `page_size` the caller chose is listed whole).
"""

from __future__ import annotations

import math
from collections import Counter

from .budget import LIMIT, size
from .models import TreePackage, TreeResult, TreeRoot, TreeUnresolved
from .operations import Query
from .resolution import Resolution

#: Unresolved edges and duplicated names listed in a default answer past the budget (the rest are counted).
UNRESOLVED_SHOWN = 20
DUPLICATES_SHOWN = 10


def tree_result(resolution: Resolution, query: Query) -> TreeResult:
    assert query.registry is not None
    ordered = sorted(resolution.packages, key=lambda p: (p.depth, p.name.lower(), p.name, p.version))
    total = len(ordered)
    start = (query.page - 1) * query.page_size
    page = ordered[start : start + query.page_size]
    versions: dict[str, list[str]] = {}
    for package in ordered:
        versions.setdefault(package.name, []).append(package.version)
    licenses = Counter(p.license or "unknown" for p in ordered)
    notes = [*resolution.notes]
    unresolved = [
        TreeUnresolved(name=u.name, requirement=u.requirement, required_by=u.required_by, reason=u.reason)
        for u in resolution.unresolved
    ]
    result = TreeResult(
        registry=query.registry,
        name=resolution.root.name,
        root=TreeRoot(name=resolution.root.name, version=resolution.root.version),
        environment=resolution.environment,
        total=total,
        max_depth=max((p.depth for p in ordered), default=0),
        page=query.page,
        page_size=query.page_size,
        pages=math.ceil(total / query.page_size),
        has_more=start + len(page) < total,
        packages=[
            TreePackage(
                name=p.name,
                version=p.version,
                depth=p.depth,
                required_by=p.required_by,
                requirement=p.requirement,
                license=p.license,
                deprecated=p.deprecated,
                yanked=p.yanked,
                optional=p.optional,
            )
            for p in page
        ],
        licenses=dict(licenses.most_common()),
        duplicates={name: found for name, found in versions.items() if len(found) > 1},
        unresolved=unresolved,
        notes=notes,
    )
    return _fit(result, query)


def _fit(result: TreeResult, query: Query) -> TreeResult:
    """A default answer past the budget: fewer unresolved edges and duplicated names, then fewer rows of the
    page, each counted."""
    if "page_size" in query.given or size(result) <= LIMIT:
        return result
    notes = [*result.notes]
    unresolved = result.unresolved
    if len(unresolved) > UNRESOLVED_SHOWN:
        notes.append(
            f"{len(unresolved) - UNRESOLVED_SHOWN} more unresolved dependencies are counted, not listed "
            f"(the first {UNRESOLVED_SHOWN} are); a page_size of your choice lists them all"
        )
        unresolved = unresolved[:UNRESOLVED_SHOWN]
    duplicates = result.duplicates
    if len(duplicates) > DUPLICATES_SHOWN:
        notes.append(
            f"{len(duplicates) - DUPLICATES_SHOWN} more names resolved to several versions are counted, not listed; "
            "their versions are among the packages (a page_size of your choice lists them all)"
        )
        duplicates = dict(list(duplicates.items())[:DUPLICATES_SHOWN])
    fitted = result.model_copy(update={"unresolved": unresolved, "duplicates": duplicates, "notes": notes})
    rows = list(fitted.packages)
    # Halve, then add back one at a time: a few size() calls, not one per row.
    keep = len(rows)
    while keep > 1 and size(_with(fitted, rows[:keep], notes, len(rows))) > LIMIT:
        keep //= 2
    while keep < len(rows) and size(_with(fitted, rows[: keep + 1], notes, len(rows))) <= LIMIT:
        keep += 1
    return _with(fitted, rows[:keep], notes, len(rows))


def _with(result: TreeResult, rows: list[TreePackage], notes: list[str], page_rows: int) -> TreeResult:
    if len(rows) == page_rows:
        return result
    note = (
        f"{len(rows)} of this page's {page_rows} packages are listed, to keep the answer small; "
        f"page_size={len(rows)} pages through every package, page_size={page_rows} lists this page whole"
    )
    return result.model_copy(update={"packages": rows, "notes": [*notes, note]})
