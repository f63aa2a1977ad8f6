"""The bundled spaces (``search_spaces/*.yaml``) and the loader that accepts a name or a path.

The bundled folder ships inside the package as ``gnnnas/space/bundled`` (a
link to the repository's top-level ``search_spaces/`` in a source checkout,
a copy in a wheel and an sdist), so the same lookup works from a checkout,
an editable install and an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

from gnnnas.space.schema import load_file
from gnnnas.space.source import SpaceError
from gnnnas.space.space import SearchSpace


def _bundled_dir() -> Path:
    packaged = Path(__file__).parent / "bundled"
    if packaged.is_dir():
        return packaged.resolve()  # the real folder, so messages name the file to edit
    # A checkout where the link did not survive (e.g. git without symlink support).
    return Path(__file__).resolve().parents[2] / "search_spaces"


BUNDLED_DIR = _bundled_dir()
SUFFIXES = (".yaml", ".yml")


def list_spaces() -> list[str]:
    """Names (file stems) of the bundled spaces, sorted."""
    if not BUNDLED_DIR.is_dir():
        return []
    return sorted(p.stem for p in BUNDLED_DIR.iterdir() if p.suffix in SUFFIXES)


def bundled_path(name: str) -> Path:
    """The file of the bundled space ``name``; an error lists the bundled names."""
    for suffix in SUFFIXES:
        path = BUNDLED_DIR / f"{name}{suffix}"
        if path.is_file():
            return path
    raise SpaceError(f"unknown search space {name!r}; expected a bundled space "
                     f"({', '.join(list_spaces()) or 'none installed'}) or a path to a .yaml file")


def load_space(name_or_path: str | Path) -> SearchSpace:
    """Load a bundled space by name (``"default"``) or any space file by path."""
    text = str(name_or_path)
    looks_like_path = isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(SUFFIXES)
    if looks_like_path:
        return load_file(Path(text))
    if text in list_spaces() or not Path(text).exists():
        return load_file(bundled_path(text))
    return load_file(Path(text))  # a suffix-less file in the working directory
