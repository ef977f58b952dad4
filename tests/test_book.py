"""The committed chapters as a reader gets them: figures present, parameters readable by papermill,
the Colab cell written from ``_config.yml``, and the helpers the chapters share (tastvg.book)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from tastvg import book

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = book.chapter_paths(ROOT / "book")

DRAWS = re.compile(r"\bplt\.(subplots|subplot|figure|subplot_mosaic)\(|\bsns\.(catplot|relplot|displot|lmplot|"
                   r"pairplot|jointplot|clustermap)\(|\.plot\(|\bshow_figure\(")
WIDGET = re.compile(r"\bwidgets\.|\binteract(ive)?\(")
IMAGE_KEYS = ("image/png", "image/svg+xml", "image/jpeg")


def _python(src: str) -> str:
    """The cell without IPython magics and shell lines (so that ``ast`` can read it)."""
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())


def _drawing_functions(cells: list[dict]) -> set[str]:
    """Names of functions the notebook defines whose bodies draw a figure."""
    names: set[str] = set()
    for cell in cells:
        try:
            tree = ast.parse(_python(book._source(cell)))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and DRAWS.search(ast.unparse(node)):
                names.add(node.name)
    return names


def draws(src: str, drawing_functions: set[str]) -> bool:
    """Does this cell's top level (function bodies aside) draw a figure?"""
    tree = ast.parse(_python(src))
    top = "\n".join(ast.unparse(n) for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef)))
    if DRAWS.search(top):
        return True
    called = {n.func.id for n in ast.walk(ast.parse(top)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return bool(called & drawing_functions)


def has_image(cell: dict) -> bool:
    """A plain image output: what Jupyter, Colab and the rendered book all show (a glued-only
    ``application/papermill.record/...`` image is shown by none of the first two)."""
    return any(key in IMAGE_KEYS for out in cell.get("outputs", []) for key in out.get("data", {}))


def figure_problems(nb: dict) -> list[str]:
    """One line per drawing cell without an image, and per widget cell without a static image in
    the next code cell."""
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    fns = _drawing_functions(cells)
    problems = []
    for i, cell in enumerate(cells):
        src = book._source(cell)
        first = src.strip().splitlines()[0] if src.strip() else ""
        if draws(src, fns) and not has_image(cell):
            problems.append(f"code cell {i} draws but has no image: {first[:70]}")
        if WIDGET.search(src) and not (i + 1 < len(cells) and has_image(cells[i + 1])):
            problems.append(f"code cell {i} is a widget without a static image in the next cell: {first[:70]}")
    return problems


def _nb(*cells: dict) -> dict:
    return {"cells": list(cells)}


def _code(src: str, outputs: list | None = None) -> dict:
    return {"cell_type": "code", "source": src, "outputs": outputs or [], "metadata": {}}


PNG = [{"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}]


def test_the_figure_check_catches_what_it_should():
    assert figure_problems(_nb(_code("fig, ax = plt.subplots()\nax.plot([1, 2])"))) != []
    assert figure_problems(_nb(_code("fig, ax = plt.subplots()", PNG))) == []
    glued = [{"output_type": "display_data", "data": {"application/papermill.record/image/png": "iVBOR"}}]
    assert figure_problems(_nb(_code("show_figure(fig)", glued))) != []  # Jupyter would show nothing
    assert figure_problems(_nb(_code("show_figure(fig)", PNG))) == []
    # a cell that only defines a plotting function draws nothing; the cell that calls it does
    defining = _code("def show(x):\n    fig, ax = plt.subplots()\n    ax.imshow(x)")
    assert figure_problems(_nb(defining, _code("show(1)"))) == ["code cell 1 draws but has no image: show(1)"]
    assert figure_problems(_nb(defining, _code("show(1)", PNG))) == []
    assert figure_problems(_nb(_code("w = widgets.IntSlider()"), _code("print(1)"))) != []
    assert figure_problems(_nb(_code("w = widgets.IntSlider()"), _code("fig = plt.figure()", PNG))) == []
    assert figure_problems(_nb(_code("%matplotlib inline\nimport numpy as np"))) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_drawing_cell_of_a_committed_chapter_has_its_image(path):
    assert figure_problems(json.loads(path.read_text())) == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter(path):
    papermill = pytest.importorskip("papermill")
    found = papermill.inspect_notebook(str(path))
    assigned = set(book.parameter_defaults(path))
    assert assigned, f"{path.name}: empty parameters cell"
    assert assigned <= set(found), f"{path.name}: papermill cannot read {sorted(assigned - set(found))}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_smoke_switch_shrinks_only_known_parameters(path):
    """Every chapter calls shrink_for_smoke with names of its own parameters cell."""
    nb = json.loads(path.read_text())
    calls = [c for c in nb["cells"] if c["cell_type"] == "code" and "shrink_for_smoke(" in book._source(c)]
    assert len(calls) == 1, f"{path.name}: expected one shrink_for_smoke call"
    call = next(n for n in ast.walk(ast.parse(_python(book._source(calls[0]))))
                if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "shrink_for_smoke")
    assert ast.literal_eval(call.args[1]) == path.name
    assert {k.arg for k in call.keywords} <= set(book.parameter_defaults(path))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_has_a_numbered_caption(path):
    """Cells that draw carry myst-nb figure metadata (caption + name); every {numref} resolves."""
    nb = json.loads(path.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    fns = _drawing_functions(cells)
    names = set()
    for cell in cells:
        if draws(book._source(cell), fns):
            fig = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
            assert fig.get("caption") and fig.get("name"), f"{path.name}: {book._source(cell)[:60]!r} has no caption"
            names.add(fig["name"])
    text = "".join(book._source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert set(re.findall(r"\{numref\}`([^`<]+)`", text)) <= names


def test_install_cells_and_badges_follow_config_yml():
    url = book.repository_url(ROOT / "_config.yml", env=False)
    branch = book.repository_branch(ROOT / "_config.yml")
    assert book.sync_colab_cells(url, ROOT / "book", write=False, branch=branch) == []
    # the URL is written nowhere else in the chapters than in these two generated places
    for path in CHAPTERS:
        nb = json.loads(path.read_text())
        i = book.install_cell_index(nb)
        assert book.colab_badge(url, path.name, branch) in book._source(nb["cells"][0])
        others = [book._source(c) for j, c in enumerate(nb["cells"]) if j not in (0, i)]
        assert not any(url in s for s in others), f"{path.name} repeats {url} outside its install cell and badge"


def test_colab_badge_needs_a_github_address():
    badge = book.colab_badge("https://github.com/me/fork", "04_tts.ipynb", "dev")
    assert badge.endswith("(https://colab.research.google.com/github/me/fork/blob/dev/book/04_tts.ipynb)")
    with pytest.raises(ValueError, match="github.com"):
        book.colab_badge("https://gitlab.com/me/fork", "04_tts.ipynb")


def test_repository_url_reads_config_and_env(tmp_path, monkeypatch):
    cfg = tmp_path / "_config.yml"
    cfg.write_text("repository:\n  url: https://example.org/me/fork/\n")
    monkeypatch.delenv(book.REPO_ENV, raising=False)
    assert book.repository_url(cfg) == "https://example.org/me/fork"
    monkeypatch.setenv(book.REPO_ENV, "/somewhere/else")
    assert book.repository_url(cfg) == "/somewhere/else"
    cfg.write_text("title: x\n")
    with pytest.raises(ValueError, match="repository.url"):
        book.repository_url(cfg, env=False)


def test_sync_rewrites_an_out_of_date_install_cell(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# 1. X\n\nText."},
                    _code(book.colab_install_source("https://github.com/old/x")), _code("x = 1")],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "01_x.ipynb"
    path.write_text(json.dumps(nb))
    assert book.sync_colab_cells("https://github.com/new/y", tmp_path) == [path]
    cells = json.loads(path.read_text())["cells"]
    assert "https://github.com/new/y" in book._source(cells[1])
    assert book._source(cells[0]) == ("# 1. X\n\n" + book.colab_badge("https://github.com/new/y", "01_x.ipynb")
                                      + "\n\nText.")
    assert book.sync_colab_cells("https://github.com/new/y", tmp_path) == []


def _run_install_cell(monkeypatch, tmp_path, url: str) -> list:
    """Execute the install cell as Colab would (a fake google.colab module), with a fake setup."""
    calls: list = []
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(book, "colab_setup", lambda d: calls.append(d))
    monkeypatch.setenv(book.REPO_ENV, url)
    monkeypatch.setenv(book.COLAB_DIR_ENV, str(tmp_path / "clone"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(book.colab_install_source("https://unused.example/x"), {})
    return calls


def test_install_cell_fails_loudly_with_the_url(monkeypatch, tmp_path):
    bad = str(tmp_path / "no-such-repo")
    with pytest.raises(RuntimeError, match=re.escape(bad)):
        _run_install_cell(monkeypatch, tmp_path, bad)


def test_install_cell_clones_and_installs(monkeypatch, tmp_path):
    src = tmp_path / "src"
    (src / "book").mkdir(parents=True)
    (src / "book" / "x.txt").write_text("x")
    for cmd in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *cmd], cwd=src, check=True)
    calls = _run_install_cell(monkeypatch, tmp_path, str(src))
    assert calls == [str(tmp_path / "clone")]
    assert Path.cwd() == tmp_path / "clone" / "book"


def test_colab_setup_installs_the_book_extra_and_reports_pip_errors(tmp_path, monkeypatch):
    seen = []

    def ok(cmd, **kw):
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(sys, "path", list(sys.path))
    book.colab_setup(tmp_path, run=ok)
    assert seen[0][-1] == f"{tmp_path.resolve()}[book]" and "-e" in seen[0]
    assert str(tmp_path.resolve()) in sys.path

    def fail(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution for foo")

    with pytest.raises(RuntimeError, match="No matching distribution"):
        book.colab_setup(tmp_path, run=fail)


def test_shrink_for_smoke_keeps_what_the_user_passed(tmp_path, monkeypatch, capsys):
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [],
                     "source": "A = 10  # a = b in a comment\nB = 'x'\nC = 3\n"}]}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    ns = {"A": 10, "B": "passed", "C": 3}
    monkeypatch.setenv(book.SMOKE_ENV, "0")
    assert book.shrink_for_smoke(ns, path, A=1) is False and ns["A"] == 10
    monkeypatch.setenv(book.SMOKE_ENV, "1")
    assert book.shrink_for_smoke(ns, path, A=1, B="small") is True
    assert ns == {"A": 1, "B": "passed", "C": 3}
    out = capsys.readouterr().out
    assert "A 10 -> 1" in out and "kept as passed: B" in out
    with pytest.raises(KeyError, match="D"):
        book.shrink_for_smoke(ns, path, D=1)


def test_pyproject_and_readme_name_no_other_address():
    import tomllib

    url = book.repository_url(ROOT / "_config.yml", env=False)
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Homepage"] == url
    found = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", (ROOT / "README.md").read_text()))
    assert not {u for u in found if "HengLan" not in u} - {url}, "README names another project address"
