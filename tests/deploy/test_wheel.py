"""The runtime install: a wheel that carries everything the CA needs at run time
(profiles, migrations, TLD data, type marker) and needs none of the test tools."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_ONLY = {"pytest", "hypothesis", "aiosmtpd", "mypy", "ruff", "xdist", "setuptools", "wheel"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built offline from a copy of the tree (the build writes next to its sources)."""
    tree = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", tree)
    shutil.copy(ROOT / "README.md", tree)
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(tree),
        ],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("certkeeper-*.whl")
    return built


def test_the_wheel_carries_the_runtime_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = sorted(ROOT.glob("src/certkeeper/store/migrations/versions/0*.py"))
    expected = {
        "certkeeper/py.typed",
        "certkeeper/lint/data/tld_periods.csv",
        "certkeeper/store/migrations/env.py",
        *(
            f"certkeeper/profiles/builtin/{p.name}"
            for p in ROOT.glob("src/certkeeper/profiles/builtin/*.toml")
        ),
        *(f"certkeeper/store/migrations/versions/{p.name}" for p in migrations),
    }
    assert expected <= names, sorted(expected - names)


def test_the_runtime_requirements_hold_no_test_tools(wheel: Path) -> None:
    meta = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("METADATA"))
    lines = zipfile.ZipFile(wheel).read(meta).decode().splitlines()
    runtime = [
        line.split(":", 1)[1].strip()
        for line in lines
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert runtime
    names = {
        r.split(">")[0].split("=")[0].split("[")[0].split(";")[0].strip().lower() for r in runtime
    }
    assert not names & TEST_ONLY, names & TEST_ONLY


def test_no_module_of_the_wheel_imports_a_test_tool(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    for name in archive.namelist():
        if not name.endswith(".py"):
            continue
        tree = ast.parse(archive.read(name))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & TEST_ONLY, f"{name} imports {roots & TEST_ONLY}"


def test_the_installed_wheel_runs(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import certkeeper.cli.main as m; "
        "assert m.__file__.startswith(sys.argv[1]), m.__file__; "
        "sys.argv = ['certkeeper', 'db', '--help']; m.app()"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(target)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "upgrade" in result.stdout
