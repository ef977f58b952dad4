"""The setup files agree with each other: pyproject.toml, environment.yml, Makefile, .ci/run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"pytorch": "torch"}  # conda package name -> PyPI name


def split_requirement(req: str) -> tuple[str, str]:
    """'jupyter-book>=1.0.4,<2' -> ('jupyter-book', '<2,>=1.0.4') with a normalised name."""
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert m, req
    name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
    spec = ",".join(sorted(s.replace(" ", "") for s in m.group(2).split(",") if s.strip()))
    return name, spec


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return dict(split_requirement(r) for r in reqs)


def environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            if item.startswith("-"):  # pip options such as "-e ."
                continue
            name, spec = split_requirement(item)
            out[CONDA_NAMES.get(name, name)] = spec
    return out


def test_environment_yml_names_every_pyproject_dependency_with_the_same_bounds():
    ours, conda = pyproject_requirements(), environment_requirements()
    missing = sorted(set(ours) - set(conda))
    assert not missing, f"environment.yml lacks {missing}"
    differing = {n: (ours[n], conda[n]) for n in ours if ours[n] != conda[n]}
    assert not differing, f"version bounds differ (pyproject, environment.yml): {differing}"
    assert "python" in conda and conda["python"] == ">=3.10"


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section


def test_torch_is_a_range_in_the_package_and_pinned_only_in_the_setup_path():
    assert pyproject_requirements()["torch"].startswith(">=")
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"TORCH_PIN \?= torch==\d", makefile)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1]
    commands = re.findall(r"^make \w+", quick_start, flags=re.M)
    assert commands[:2] == ["make book", "make test"], commands
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_import_tastvg_is_light():
    code = "import sys, tastvg; heavy = [m for m in ('matplotlib', 'torch', 'transformers', 'av') if m in sys.modules]; print(heavy)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_book_files_reference_existing_chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    for f in files:
        assert any((ROOT / f).with_suffix(s).exists() for s in (".md", ".ipynb")), f
    chapters = sorted(p.stem for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    assert all(f"book/{c}" in files for c in chapters), "a chapter notebook is not in _toc.yml"
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert (ROOT / config["bibtex_bibfiles"][0]).exists()
