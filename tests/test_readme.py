"""The README's command synopsis matches the command-line parser, option by option."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from needling_analytics.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _synopsis() -> dict[tuple[str, ...], list[str]]:
    """The synopsis lines of README.md's "The command" section, as tokens, by command words."""
    section = README.read_text(encoding="utf-8").split("\n## The command\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.S).group(1)
    lines = {}
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()  # a comment after the command
        if not line.startswith("needling-analytics"):
            continue  # `python -m needling_analytics ...`
        tokens = re.findall(r"[\[\]()]|[^\s\[\]()]+", line)[1:]
        words = tuple(t for t in tokens[:2] if re.fullmatch(r"[a-z][a-z-]*", t))
        words = words if words[:1] == ("report",) else words[:1]
        assert words not in lines, f"two synopsis lines for {' '.join(words)!r}"
        lines[words] = tokens[len(words) :]
    return lines


def _parsers() -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every parser that runs a command (the leaves of the subcommand tree), by command words."""
    found = {}

    def walk(parser, words):
        subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subcommands:
            found[words] = parser
        for action in subcommands:
            for name, sub in action.choices.items():
                walk(sub, (*words, name))

    parser = build_parser()
    found[()] = parser  # the program itself: --version
    walk(parser, ())
    return found


def _documented(tokens: list[str], parser: argparse.ArgumentParser) -> tuple[dict, list[str]]:
    """The options of a synopsis line (option -> (value or None, inside brackets)) and its positional words."""
    actions = {s: a for a in parser._actions for s in a.option_strings}
    options, positionals, depth, i = {}, [], 0, 0
    while i < len(tokens):
        token = tokens[i]
        if token == "[":
            depth += 1
        elif token == "]":
            depth -= 1
        elif token.startswith("--"):
            assert token not in options, f"{token} appears twice"
            takes_value = token in actions and actions[token].nargs != 0
            value = tokens[i + 1] if takes_value and i + 1 < len(tokens) else None
            options[token] = (value, depth > 0)
            i += takes_value
        elif token not in {"(", ")", "|"}:
            positionals.append(token)
        i += 1
    return options, positionals


SYNOPSIS = _synopsis()
PARSERS = _parsers()
COMMANDS = sorted(PARSERS, key=" ".join)


def test_every_command_has_one_synopsis_line():
    assert sorted(SYNOPSIS, key=" ".join) == COMMANDS


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "needling-analytics")
def test_synopsis_line_matches_parser(words):
    parser = PARSERS[words]
    assert words in SYNOPSIS, f"README.md has no synopsis line for {' '.join(words)!r}"
    documented, positionals = _documented(SYNOPSIS[words], parser)
    actions = [a for a in parser._actions if a.option_strings and "--help" not in a.option_strings]
    expected = {a.option_strings[-1]: a for a in actions}
    assert sorted(documented) == sorted(expected), "options in README.md differ from the parser's"
    for option, (value, _) in documented.items():
        action = expected[option]
        if action.nargs == 0:
            continue  # a flag
        assert value and not value.startswith("--") and value not in "[]()|", f"{option} needs its value"
        if action.choices is not None:
            assert sorted(value.split("|")) == sorted(action.choices), f"choices of {option}"
        else:
            assert "|" not in value, f"{option} takes any value, not a choice"
    for option, (_, optional) in documented.items():
        if expected[option].required:
            assert not optional, f"{option} is required: not in [brackets]"
    wanted = [a for a in parser._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]
    assert len(positionals) == len(wanted), f"positional arguments: README {positionals}, parser {wanted}"


def test_reading_your_report_covers_every_section_of_the_clinic_report():
    """docs/reading-your-report.md has a heading for each heading of the clinic report notebook."""
    root = README.parent
    notebook = (root / "notebooks" / "clinic_report.py").read_text(encoding="utf-8")
    sections = re.findall(r"^# #{2,3} (.+)$", notebook, flags=re.M)
    assert len(sections) >= 10
    page = (root / "docs" / "reading-your-report.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^#{2,4} (.+)$", page, flags=re.M))
    assert [s for s in sections if s.strip() not in headings] == []


@pytest.mark.parametrize("page", ["README.md", "docs/reading-your-report.md"])
def test_links_to_files_resolve(page):
    path = README.parent / page
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8"))
    assert targets
    assert [t for t in targets if not (path.parent / t).exists()] == []
