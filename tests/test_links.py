"""The project's own documents: every relative link resolves, to a file that exists and, with a
``#fragment``, to a heading of that file (anchors made the way GitHub makes them).

Also: nothing in the repository still cites the contract document by a path it does not have.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "ARCHITECTURE.md", ROOT / "bench" / "README.md",
                    *(ROOT / "docs").glob("**/*.md")])
#: ``[text](target)``, with the target up to a space or the closing parenthesis.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def anchor_of(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.replace("`", "").replace("**", "").strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        anchor, number = anchor_of(heading), 0
        while (anchor if number == 0 else f"{anchor}-{number}") in found:
            number += 1
        found.add(anchor if number == 0 else f"{anchor}-{number}")
    return found


def relative_links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return [target for target in LINK.findall(text)
            if not re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)]


def broken_link(source: Path, target: str) -> str | None:
    """Why ``target``, linked from ``source``, does not resolve; None when it does."""
    file_part, _, fragment = target.partition("#")
    resolved = (source.parent / file_part).resolve() if file_part else source
    if not resolved.exists():
        return f"{target}: no such file"
    if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
        return f"{target}: no heading with the anchor #{fragment} in {resolved.name}"
    return None


def test_the_anchors_are_made_as_github_makes_them() -> None:
    assert anchor_of("Listing: GET /inventory_device_diags/") == "listing-get-inventory_device_diags"
    assert anchor_of("The mock's data") == "the-mocks-data"
    assert anchor_of("Controlling the mock: admin API, faults, persistence") == (
        "controlling-the-mock-admin-api-faults-persistence")


def test_a_broken_link_is_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [gone](missing.md) [bad](#nowhere)\n", encoding="utf-8")
    problems = [broken_link(page, target) for target in relative_links(page)]
    assert problems[0] is None
    assert problems[1] == "missing.md: no such file"
    assert problems[2] is not None and "#nowhere" in problems[2]


@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(path.relative_to(ROOT)) for path in DOCUMENTS])
def test_every_relative_link_resolves(document: Path) -> None:
    problems = [problem for target in relative_links(document)
                if (problem := broken_link(document, target)) is not None]
    assert not problems, f"{document.relative_to(ROOT)}: " + "; ".join(problems)


def test_the_contract_document_is_in_the_repository() -> None:
    assert (ROOT / "docs/contract.md").is_file()


def test_the_contract_is_cited_by_its_path_in_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    stale = []
    for name in tracked.stdout.splitlines():
        path = ROOT / name
        if not path.is_file() or path.suffix not in {".md", ".py", ".json", ".toml", ".yml", ".sh"}:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if re.search(r"(?<![/\w])contract\.md", line):
                stale.append(f"{name}:{number}")
    assert not stale, "cites the contract document without its folder, docs/: " + ", ".join(stale)
