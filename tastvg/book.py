"""Helpers for the book's chapters: the Colab install cell, the smoke switch, glued figures.

The chapters (``book/*.ipynb``) import these so that what every chapter repeats lives in one
tested place:

* :func:`repository_url` is the project's public home, read from ``_config.yml``
  (``repository.url``, the one place it is written) or from ``$TASTVG_REPO_URL`` for forks;
  :func:`colab_install_source` writes the first code cell of every chapter from it, and
  ``tastvg book sync`` (:mod:`tastvg.cli.book`) rewrites the cells after the URL changes.
* :func:`colab_setup` installs the package's ``[book]`` extra in Colab without a runtime restart.
* :func:`shrink_for_smoke` applies the small CI run (``TASTVG_SMOKE=1``) only to the parameters
  the user left at their defaults, and says what it changed.
* :func:`show_figure` displays a matplotlib figure once, as a plain image output that the cell's
  ``mystnb.figure`` metadata captions and numbers in the rendered book.
* :func:`colab_badge` is the *Open in Colab* badge of a chapter, written by the same sync.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

REPO_ENV = "TASTVG_REPO_URL"
COLAB_DIR_ENV = "TASTVG_COLAB_DIR"
SMOKE_ENV = "TASTVG_SMOKE"
COLAB_DIR = "/content/tastvg"
INSTALL_MARK = "# Colab only: clone the project and install it (a no-op anywhere else)."


def _config_file() -> Path:
    from tastvg.paths import repository_root

    root = repository_root()
    if root is None:
        raise FileNotFoundError("_config.yml not found: use a clone of the repository or set $" + REPO_ENV)
    return root / "_config.yml"


def repository_url(config: str | Path | None = None, env: bool = True) -> str:
    """The project's public repository: ``$TASTVG_REPO_URL`` if set (and ``env``), else
    ``repository.url`` of the book's ``_config.yml``.

    Raises:
        ValueError: naming the file, when it has no ``repository.url``.
    """
    if env and os.environ.get(REPO_ENV):
        return os.environ[REPO_ENV]
    import yaml

    path = Path(config) if config is not None else _config_file()
    data = yaml.safe_load(path.read_text()) or {}
    url = (data.get("repository") or {}).get("url")
    if not isinstance(url, str) or not url:
        raise ValueError(f"{path}: field 'repository.url' is missing")
    return url.rstrip("/")


def colab_install_source(url: str) -> str:
    """The first code cell of every chapter. In Colab it clones ``url`` (or ``$TASTVG_REPO_URL``)
    into ``/content/tastvg`` (or ``$TASTVG_COLAB_DIR``), stops with the URL it tried when the
    clone fails, then lets :func:`colab_setup` of the clone install the package."""
    return f'''{INSTALL_MARK}
import os, subprocess, sys
if "google.colab" in sys.modules:
    REPO_URL = os.environ.get("{REPO_ENV}", "{url}")  # written from _config.yml by `tastvg book sync`
    REPO_DIR = os.environ.get("{COLAB_DIR_ENV}", "{COLAB_DIR}")
    if not os.path.isdir(REPO_DIR):
        clone = subprocess.run(["git", "clone", "--depth", "1", REPO_URL, REPO_DIR], capture_output=True, text=True)
        if clone.returncode != 0:
            raise RuntimeError(f"could not clone {{REPO_URL}} (set {REPO_ENV} to your fork): {{clone.stderr.strip()}}")
    sys.path.insert(0, REPO_DIR)
    from tastvg.book import colab_setup
    colab_setup(REPO_DIR)
    os.chdir(os.path.join(REPO_DIR, "book"))'''


BADGE_MARK = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"


def colab_badge(url: str, notebook: str, branch: str = "main") -> str:
    """The *Open in Colab* badge of ``book/<notebook>`` in the GitHub repository ``url``.

    Raises:
        ValueError: when ``url`` is not a ``https://github.com/OWNER/REPO`` address.
    """
    owner_repo = url.removeprefix("https://github.com/")
    if owner_repo == url or owner_repo.count("/") != 1:
        raise ValueError(f"repository.url {url!r}: Colab opens notebooks from https://github.com/OWNER/REPO only")
    return f"{BADGE_MARK}(https://colab.research.google.com/github/{owner_repo}/blob/{branch}/book/{notebook})"


def repository_branch(config: str | Path | None = None) -> str:
    """``repository.branch`` of ``_config.yml`` (default ``main``)."""
    import yaml

    path = Path(config) if config is not None else _config_file()
    return str(((yaml.safe_load(path.read_text()) or {}).get("repository") or {}).get("branch") or "main")


def _with_badge(markdown: str, badge: str) -> str:
    """The chapter's first markdown cell with ``badge`` in its own paragraph under the title."""
    title, *rest = [line for line in markdown.splitlines() if not line.startswith(BADGE_MARK)] or [""]
    while rest and not rest[0].strip():
        rest.pop(0)
    return "\n".join([title, "", badge, *([""] + rest if rest else [])])


def colab_setup(repo_dir: str | Path, run: Callable[..., Any] = subprocess.run) -> None:
    """Install the clone at ``repo_dir`` with its ``[book]`` extra into the running Python, and make
    it importable at once: the editable install's path hook is only read at interpreter start, so
    the clone goes on ``sys.path`` too (no runtime restart needed).

    Raises:
        RuntimeError: with pip's last lines, when the install fails.
    """
    repo = str(Path(repo_dir).resolve())
    done = run([sys.executable, "-m", "pip", "install", "-q", "-e", f"{repo}[book]"],
               capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout or "").strip().splitlines()[-5:])
        raise RuntimeError(f"pip could not install {repo}[book]:\n{tail}")
    if repo not in sys.path:
        sys.path.insert(0, repo)
    importlib.invalidate_caches()


# ------------------------------------------------------------------------------------ chapters
def chapter_paths(book_dir: str | Path | None = None) -> list[Path]:
    """The chapter notebooks ``book/NN_*.ipynb``, in order."""
    if book_dir is None:
        from tastvg.paths import repository_root

        root = repository_root()
        if root is None:
            raise FileNotFoundError("book/ not found: use a clone of the repository")
        book_dir = root / "book"
    return sorted(Path(book_dir).glob("[0-9][0-9]_*.ipynb"))


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def install_cell_index(nb: dict[str, Any]) -> int | None:
    """Index of the chapter's install cell (the code cell that starts with the install mark)."""
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and _source(cell).startswith(INSTALL_MARK):
            return i
    return None


def sync_colab_cells(url: str, book_dir: str | Path | None = None, write: bool = True,
                     branch: str = "main") -> list[Path]:
    """Rewrite every chapter's install cell and Colab badge from ``url``; returns the chapters
    that changed.

    Raises:
        ValueError: naming the chapter, when it has no install cell or no title cell.
    """
    changed = []
    want = colab_install_source(url)
    for path in chapter_paths(book_dir):
        nb = json.loads(path.read_text())
        i = install_cell_index(nb)
        if i is None:
            raise ValueError(f"{path}: no install cell (a code cell starting with {INSTALL_MARK!r})")
        first = nb["cells"][0]
        if first["cell_type"] != "markdown":
            raise ValueError(f"{path}: the first cell must be the chapter's title (markdown)")
        title = _with_badge(_source(first), colab_badge(url, path.name, branch))
        if _source(nb["cells"][i]) != want or _source(first) != title:
            changed.append(path)
            if write:
                nb["cells"][i]["source"] = want.splitlines(keepends=True)
                first["source"] = title.splitlines(keepends=True)
                path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


# ------------------------------------------------------------------------------------ parameters
def parameters_cell(nb: dict[str, Any]) -> str:
    """Source of the cell tagged ``parameters`` (papermill's convention)."""
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return _source(cell)
    raise ValueError("no cell tagged 'parameters'")


def parameter_defaults(notebook: str | Path) -> dict[str, Any]:
    """``{name: value}`` of every plain assignment in ``notebook``'s parameters cell."""
    tree = ast.parse(parameters_cell(json.loads(Path(notebook).read_text())))
    out: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = ast.literal_eval(node.value)
    return out


def shrink_for_smoke(namespace: MutableMapping[str, Any], notebook: str | Path, **smoke: Any) -> bool:
    """Apply the small CI run when ``$TASTVG_SMOKE`` is ``1``; return whether it is on.

    Each ``NAME=value`` replaces ``namespace[NAME]`` only while it still equals the default of the
    chapter's parameters cell: a value passed with ``papermill -p`` is kept. Prints what changed.

    Raises:
        KeyError: when ``NAME`` is not a parameter of ``notebook``.
    """
    on = os.environ.get(SMOKE_ENV, "0") == "1"
    if not on:
        return False
    defaults = parameter_defaults(notebook)
    changed, kept = [], []
    for name, value in smoke.items():
        if name not in defaults:
            raise KeyError(f"{notebook}: {name} is not in the parameters cell")
        if namespace.get(name) == defaults[name]:
            if value != defaults[name]:
                namespace[name] = value
                changed.append(f"{name} {defaults[name]!r} -> {value!r}")
        else:
            kept.append(name)
    print("smoke run:", ", ".join(changed) or "nothing to shrink",
          f"(kept as passed: {', '.join(kept)})" if kept else "")
    return True


# ------------------------------------------------------------------------------------ figures
def show_figure(fig: Any) -> None:
    """Display ``fig`` as the cell's image output and close it (so the inline backend does not
    draw it a second time). The image is a plain ``image/png`` output, so Jupyter, Colab and
    GitHub show it in a downloaded notebook; the rendered book numbers and captions it from the
    cell's ``mystnb.figure`` metadata (``caption``, ``name``)."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)


def glue_values(**values: Any) -> None:
    """Glue each number or string for ``{glue:text}`` in the prose (hidden in the cell)."""
    from myst_nb import glue

    for name, value in values.items():
        glue(name, value, display=False)
