"""Reading a space file: YAML text -> plain data plus the line of every key.

Errors are :class:`SpaceError`: one line ``FILE:LINE: KEY.PATH: problem;
expected ...``. Line numbers come from the YAML node marks (``yaml.compose``),
so a problem found long after parsing still points at the right line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from gnnnas.errors import GnnnasError

KeyPath = tuple[str | int, ...]


class SpaceError(GnnnasError):
    """A search-space file (or parameter set) that is not valid. The message is one line."""

    def __init__(self, problem: str, *, file: str | None = None, line: int | None = None,
                 key: KeyPath | str = ()) -> None:
        self.problem, self.file, self.line = problem, file, line
        self.key = key if isinstance(key, str) else format_key(key)
        where = f"{file}:{line}" if file and line else (file or "")
        one_line = " ".join(problem.split())  # the CLI promises one line, whatever the YAML said
        super().__init__(": ".join([p for p in (where, self.key) if p] + [one_line]))


def format_key(path: KeyPath) -> str:
    """``("layers", "aggregator", "choices", 2)`` -> ``layers.aggregator.choices[2]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Source:
    """Where data came from: the file name for messages and the 1-based line of each key path."""

    file: str
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, path: KeyPath) -> int | None:
        """Line of ``path``, or of its nearest ancestor present in the file (for missing keys)."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)

    def fail(self, path: KeyPath, problem: str) -> NoReturn:
        raise SpaceError(problem, file=self.file, line=self.line(path), key=path)


def describe_value(value: Any) -> str:
    """How messages show a value the user wrote: its repr and type."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return f"{value!r} ({type(value).__name__})"


def read_text(path: Path) -> str:
    """The file's text, or a :class:`SpaceError` naming the file."""
    if not path.exists():
        raise SpaceError("no such file", file=str(path))
    if path.is_dir():
        raise SpaceError("is a directory; expected a .yaml space file", file=str(path))
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SpaceError(f"not UTF-8 text ({err.reason} at byte {err.start})", file=str(path)) from None
    except OSError as err:
        raise SpaceError(f"cannot read: {err.strerror}", file=str(path)) from None


def parse_yaml(text: str, file: str) -> tuple[Any, Source]:
    """Parse YAML text into plain data and a :class:`Source` that maps key paths to lines."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = " ".join(x for x in (err.context, err.problem) if x)
        raise SpaceError(f"invalid YAML: {problem}", file=file, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as err:
        raise SpaceError(f"invalid YAML: {err}", file=file) from None
    lines: dict[KeyPath, int] = {}
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _collect_lines(node, (), lines, file)
    return data, Source(file, lines)


def _collect_lines(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], file: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                # PyYAML keeps the last duplicate silently; a repeated key is almost always a mistake.
                raise SpaceError("duplicate key; each key may appear once", file=file, line=line,
                                 key=path + (key,))
            seen.add(key)
            lines[path + (key,)] = line
            _collect_lines(value_node, path + (key,), lines, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _collect_lines(item, path + (i,), lines, file)
