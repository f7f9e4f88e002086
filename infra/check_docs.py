#!/usr/bin/env python3
"""Checks the documentation against the repository (issue 30), offline:

1. every relative link in README.md, SECURITY.md, bench/RESULTS.md and docs/ resolves: the file
   exists and, for a `#fragment` into a Markdown file, a heading of that name does (GitHub's
   anchors);
2. docs/configuration.md's "Variables" table lists exactly the environment variables (and SSM
   `_PARAM` forms) the functions' own code reads: one read but not listed, or listed but read
   by nothing, fails;
3. docs/data-flow.svg is what its source, docs/diagram/data_flow.py, draws.

Usage: infra/check_docs.py [ROOT]   (exit 1 with every problem listed)
infra/test_docs_checks.py shows each check failing on a tree that breaks it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# ---- 1. links ----

LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def documents(root: Path) -> list[Path]:
    found = [root / "README.md", root / "SECURITY.md", root / "bench" / "RESULTS.md"]
    found += sorted((root / "docs").rglob("*.md"))
    return [path for path in found if path.is_file()]


def prose_lines(text: str):
    """The lines outside fenced code blocks, with code spans blanked (links there are text)."""
    fenced = False
    for number, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, CODE_SPAN.sub("", line)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|__", "", heading.strip()).lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    names = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        names.add(base if count == 0 else f"{base}-{count}")
    return names


def link_problems(root: Path) -> list[str]:
    problems = []
    for doc in documents(root):
        text = doc.read_text(encoding="utf-8")
        for number, line in prose_lines(text):
            for match in LINK.finditer(line):
                target = match.group(1)
                if not target or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                    continue  # an absolute URL (https:, mailto:): not ours to check offline
                where = f"{doc.relative_to(root)}:{number}"
                path_part, _, fragment = target.partition("#")
                resolved = (doc.parent / path_part).resolve() if path_part else doc
                if path_part and not resolved.exists():
                    problems.append(f"{where}: link to {target}: no such file")
                    continue
                if fragment and resolved.suffix == ".md" and resolved.is_file():
                    if fragment.lower() not in anchors(resolved):
                        problems.append(f"{where}: link to {target}: no heading #{fragment}")
    return problems


# ---- 2. the configuration reference ----

NAME = r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"'
# A helper that takes the variable's name as its argument: std::env::var("X"), var_os("X"),
# env.get("X"), plain("X"), text(env, "X"), url(env, "X"), flag(env, "X"), get("X") in from_env
# closures.
DIRECT = re.compile(r"\b(?:var|var_os|get|plain|text|url|flag)\(\s*(?:env\s*,\s*)?&?" + NAME)
SECONDS = re.compile(r"seconds_setting\(\s*" + NAME)
# Secret lists: each name is read as itself or as `<NAME>_PARAM` (config::secret_source).
SECRET_LIST = re.compile(
    r"(?:pub const (?:INTAKE|STATUS|SIGN_IN|ADMIN|WORKER)\s*:\s*&\[&str\]\s*=\s*&\["
    r"|optional_secrets\(\s*env\s*,\s*parameters\s*,\s*&\[)([^\]]*)\]",
    re.S,
)
# The file queues' variables come from FileQueue::url_variable's match arms.
URL_VARIABLE = re.compile(r"fn url_variable[^{]*\{(.*?)\n    \}", re.S)
# Upper-case literals in production code that are not variables: table keys, status values,
# event types, a compile-time variable. A new literal must be one or the other, so a new way of
# reading a variable cannot slip past the patterns above.
NOT_VARIABLES = {
    "SYNC_LOCK", "STATUS_MAP", "SDK_KEYS", "AGENT_SESSIONS", "IN_PROGRESS", "OBJECT_FINALIZE",
    "NEW_AND_OLD_IMAGES", "CARGO_PKG_VERSION", "SHADOW_CURRENT",
}


def production_sources(root: Path) -> list[Path]:
    return sorted((root / "shared" / "src").rglob("*.rs")) + sorted(
        path for path in (root / "functions").glob("*/src/**/*.rs")
    )


def without_tests_and_comments(source: str) -> str:
    """Blanks `#[cfg(test)] mod … { … }` blocks (by brace matching) and `//` comments."""
    chars = list(source)
    for match in re.finditer(r"#\[cfg\(test\)\]\s*(?:#!?\[[^\]]*\]\s*)*mod\s+\w+\s*\{", source):
        depth, end = 1, match.end()
        while depth and end < len(source):
            depth += {"{": 1, "}": -1}.get(source[end], 0)
            end += 1
        for index in range(match.start(), end):
            if chars[index] != "\n":
                chars[index] = " "
    return re.sub(r"//[^\n]*", "", "".join(chars))


def variables_read(root: Path) -> tuple[dict[str, str], list[str]]:
    """The variables production code reads (name → first place), and unexplained literals."""
    read: dict[str, str] = {}
    unexplained = []
    for path in production_sources(root):
        source = without_tests_and_comments(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(root))

        def add(name: str, at: int) -> None:
            read.setdefault(name, f"{where}:{source.count(chr(10), 0, at) + 1}")

        for pattern in (DIRECT, SECONDS):
            for match in pattern.finditer(source):
                add(match.group(1), match.start())
        for match in SECRET_LIST.finditer(source):
            for name in re.findall(NAME, match.group(1)):
                add(name, match.start(1))
                add(f"{name}_PARAM", match.start(1))
        for match in URL_VARIABLE.finditer(source):
            for name in re.findall(r"=>\s*" + NAME, match.group(1)):
                add(name, match.start(1))
        for match in re.finditer(NAME, source):
            unexplained.append((match.group(1), where))
    leftovers = sorted(
        {f"{name} ({where})" for name, where in unexplained if name not in read and name not in NOT_VARIABLES}
    )
    return read, leftovers


def documented_variables(root: Path) -> set[str]:
    """The names in the first column of docs/configuration.md's "Variables" table."""
    page = (root / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = page.split("\n## Variables", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.split("\n"):
        if line.startswith("|") and not re.match(r"^\|\s*(variable|-)", line):
            first = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first))
    return names


def configuration_problems(root: Path) -> list[str]:
    read, leftovers = variables_read(root)
    listed = documented_variables(root)
    problems = [
        f"{name} is read ({where}) but docs/configuration.md does not list it"
        for name, where in sorted(read.items())
        if name not in listed
    ]
    problems += [
        f"docs/configuration.md lists {name}, which no function reads"
        for name in sorted(listed - set(read))
    ]
    problems += [
        f"an upper-case literal neither read as a variable nor known as something else: {item}"
        " (teach infra/check_docs.py how it is read, or add it to NOT_VARIABLES)"
        for item in leftovers
    ]
    return problems


# ---- 3. the diagram ----


def diagram_problems(root: Path) -> list[str]:
    source = root / "docs" / "diagram" / "data_flow.py"
    drawn = root / "docs" / "data-flow.svg"
    if not source.is_file():
        return []
    fresh = subprocess.run(
        [sys.executable, str(source)], check=True, capture_output=True, text=True
    ).stdout
    if not drawn.is_file() or drawn.read_text(encoding="utf-8") != fresh:
        return [
            "docs/data-flow.svg is not what docs/diagram/data_flow.py draws: run "
            "`python3 docs/diagram/data_flow.py > docs/data-flow.svg`"
        ]
    return []


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    problems = link_problems(root) + configuration_problems(root) + diagram_problems(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"docs: links resolve, the configuration reference matches the code ({len(variables_read(root)[0])} variables)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
