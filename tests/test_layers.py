"""The layering of docs/architecture.md, checked: a forbidden import or a new package
cycle fails here, with the file and line named.

Rules (imports anywhere in a module count, including those inside functions):

1. The pure core (`x509`, `lint`, `profiles`, `keys`, and the modules `br`, `errors`,
   `tomlcheck`) imports nothing of certkeeper outside the core.
2. The core reads neither the environment nor the wall clock: today's date and where
   `data update` installed TLD data are parameters the shells supply. `CORE_READS`
   stays empty.
3. `cli/` does not import `store`: commands ask services. The imports left are listed
   in `CLI_STORE_IMPORTS` and may only go.
4. No package (or top-level module) is in an import cycle. Worker processes that build
   their own CA are handed the composition root's function; they do not import it.
5. `config` and `settings/` (each table of certkeeper.toml) import only the core, each
   other and the pure helper `urls`: reading the configuration imports no service.
6. Only the shells (`cli/`, `server_worker`) import the composition root (`wiring`):
   a service names what it uses of a CA with a Protocol of its own, and a worker pool
   is handed the function its workers build with.
7. The services import one another downwards only, in the rows of the picture in
   docs/architecture.md (`SERVICE_ROWS`, top first); none imports its own row.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "certkeeper"

CORE_PACKAGES = {"x509", "lint", "profiles", "keys"}
CORE_MODULES = {"br", "errors", "tomlcheck"}

# Reads of the environment or the clock still in the core: (file, what).
CORE_READS: set[tuple[str, str]] = set()

# cli -> store imports still to be replaced by service calls: file -> count.
CLI_STORE_IMPORTS: dict[str, int] = {}

# Parameters typed `CaHome` outside `ca/`, `cli/` and the composition root (`wiring.py`):
# services take the stores, settings and keys they touch. file -> count; may only shrink.
TAKES_CA_HOME: dict[str, int] = {}

# The service classes: constructed only by the composition root (`wiring.py`), so every
# process gets each one built the same way, with the same hooks.
SERVICES = {
    "IssuanceService",
    "ValidationAuthority",
    "OperatorValidation",
    "CrlPublisher",
    "OcspService",
    "OcspSigner",
    "Republisher",
    "RevocationService",
    "IncidentService",
    "IncidentNotifier",
    "ReportBuilder",
    "Relinter",
    "CpsChecker",
}

# The services' rows in docs/architecture.md, top first.
SERVICE_ROWS = [
    {"acme"},
    {"report", "audit"},
    {"revocation"},
    {"status"},
    {"issuance"},
    {"validation", "ct"},
    {"ca"},
    {"auditlog", "signing", "<issuer_keys>", "<crl_files>", "<metrics>"},
]

CLOCK_AND_ENV = {
    ("os", "environ"),
    ("os", "getenv"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("time", "time"),
}


def module_name(path: Path, src: Path) -> str:
    rel = path.relative_to(src.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, src: Path) -> Iterable[tuple[str, int]]:
    """(imported certkeeper module, line) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = module_name(path, src).split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == src.name:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + (1 if path.name == "__init__.py" else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != src.name:
                continue
            for alias in node.names:  # `from certkeeper import x509` imports the package
                candidate = f"{target}.{alias.name}"
                sub = src.parent.joinpath(*candidate.split("."))
                yield (
                    (candidate if sub.is_dir() or sub.with_suffix(".py").is_file() else target),
                    (node.lineno),
                )


def reads(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in CLOCK_AND_ENV
        ):
            found.add(f"{node.value.id}.{node.attr}")
    return found


class Tree:
    """Every import edge between units of one source tree."""

    def __init__(self, src: Path) -> None:
        self.src = src
        self.edges: dict[str, set[str]] = defaultdict(set)
        self.sites: dict[tuple[str, str], list[str]] = defaultdict(list)
        for path in sorted(src.rglob("*.py")):
            rel = str(path.relative_to(src))
            source = self.unit(module_name(path, src))
            for target, line in imports(path, src):
                unit = self.unit(target)
                if unit != source:
                    self.edges[source].add(unit)
                    self.sites[(source, unit)].append(f"{rel}:{line}")

    def unit(self, module: str) -> str:
        parts = module.split(".")
        if len(parts) < 2:
            return f"<{parts[0]}>"
        return parts[1] if (self.src / parts[1]).is_dir() else f"<{parts[1]}>"

    def cycles(self) -> list[set[str]]:
        """Strongly connected components of more than one unit (Tarjan)."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        out: list[set[str]] = []

        def visit(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in sorted(self.edges.get(v, ())):
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.add(w)
                    if w == v:
                        break
                if len(component) > 1:
                    out.append(component)

        for v in sorted(set(self.edges) | {w for ws in self.edges.values() for w in ws}):
            if v not in index:
                visit(v)
        return out


CORE = CORE_PACKAGES | {f"<{m}>" for m in CORE_MODULES}
SHELLS = {"cli", "<server_worker>", "<__main__>"}
SETTINGS = {"<config>", "settings"}
SETTINGS_MAY_IMPORT = CORE | SETTINGS | {"<urls>"}


def core_violations(tree: Tree) -> list[str]:
    return [
        f"{site}: the core ({source}) imports {target}"
        for (source, target), sites in sorted(tree.sites.items())
        if source in CORE and target not in CORE
        for site in sites
    ]


def settings_violations(tree: Tree) -> list[str]:
    return [
        f"{site}: the settings ({source}) import {target}"
        for (source, target), sites in sorted(tree.sites.items())
        if source in SETTINGS and target not in SETTINGS_MAY_IMPORT
        for site in sites
    ]


def wiring_importers(tree: Tree) -> list[str]:
    return [
        f"{site}: {source} imports the composition root"
        for (source, target), sites in sorted(tree.sites.items())
        if target == "<wiring>" and source not in SHELLS
        for site in sites
    ]


def upward_imports(tree: Tree) -> list[str]:
    row = {unit: i for i, units in enumerate(SERVICE_ROWS) for unit in units}
    return [
        f"{site}: {source} imports {target}, a row above or beside it"
        for (source, target), sites in sorted(tree.sites.items())
        if source in row and target in row and row[target] <= row[source]
        for site in sites
    ]


@pytest.fixture(scope="module")
def tree() -> Tree:
    return Tree(SRC)


def test_the_core_imports_only_the_core(tree: Tree) -> None:
    assert core_violations(tree) == []


def test_only_the_shells_import_the_composition_root(tree: Tree) -> None:
    assert wiring_importers(tree) == []


def test_services_import_downwards_only(tree: Tree) -> None:
    assert upward_imports(tree) == []


def test_config_composes_settings_without_importing_services(tree: Tree) -> None:
    assert settings_violations(tree) == []


def test_the_core_reads_no_environment_and_no_clock() -> None:
    found = set()
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if rel.parts[0] in CORE_PACKAGES or (rel.stem in CORE_MODULES and len(rel.parts) == 1):
            found |= {(str(rel), what) for what in reads(path)}
    assert found == CORE_READS, "update CORE_READS only by removing reads"


def test_cli_asks_services_not_stores(tree: Tree) -> None:
    sites: dict[str, int] = defaultdict(int)
    for site in tree.sites.get(("cli", "store"), []):
        sites[site.rsplit(":", 1)[0]] += 1
    assert dict(sites) == CLI_STORE_IMPORTS, "update CLI_STORE_IMPORTS only by removing imports"


def test_no_package_is_in_an_import_cycle(tree: Tree) -> None:
    cycles = tree.cycles()
    found = [
        f"{sorted(c)}: "
        + "; ".join(sorted(tree.sites[(a, b)][0] for a in c for b in c if (a, b) in tree.sites))
        for c in cycles
    ]
    assert found == []


def test_a_planted_violation_and_a_planted_cycle_are_found(tmp_path: Path) -> None:
    src = tmp_path / "certkeeper"
    for package in ("x509", "store", "acme", "ca"):
        (src / package).mkdir(parents=True)
        (src / package / "__init__.py").write_text("")
    (src / "x509" / "der.py").write_text("def f():\n    from certkeeper.store import tables\n")
    (src / "acme" / "app.py").write_text("from certkeeper.ca.home import CaHome\n")
    (src / "ca" / "home.py").write_text("from ..acme import app\n")
    (src / "store" / "tables.py").write_text("")
    (src / "wiring.py").write_text("")
    (src / "ca" / "batch.py").write_text(
        "if TYPE_CHECKING:\n    from certkeeper.wiring import Ca\n"
    )
    planted = Tree(src)
    assert core_violations(planted) == ["x509/der.py:2: the core (x509) imports store"]
    assert wiring_importers(planted) == ["ca/batch.py:2: ca imports the composition root"]
    assert upward_imports(planted) == ["ca/home.py:1: ca imports acme, a row above or beside it"]


def ca_home_parameters(src: Path) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src)
        if rel.parts[0] in ("ca", "cli") or str(rel) == "wiring.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                    if arg.annotation is not None and "CaHome" in ast.unparse(arg.annotation):
                        found[str(rel)] += 1
    return dict(found)


def constructions(path: Path) -> list[tuple[int, str]]:
    """(line, service class) for each construction of a service in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func).rsplit(".", 1)[-1]
            if name in SERVICES:
                found.append((node.lineno, name))
    return sorted(found)


def service_constructions(src: Path) -> list[str]:
    """`file:line Service(...)` for each construction of a service outside wiring.py."""
    return [
        f"{path.relative_to(src)}:{line} {name}"
        for path in sorted(src.rglob("*.py"))
        if str(path.relative_to(src)) != "wiring.py"
        for line, name in constructions(path)
    ]


def test_services_do_not_take_the_ca_home() -> None:
    assert ca_home_parameters(SRC) == TAKES_CA_HOME, "update TAKES_CA_HOME only downwards"


def test_services_are_built_only_by_the_composition_root() -> None:
    assert service_constructions(SRC) == []


def test_the_composition_root_builds_each_service_in_one_place() -> None:
    """One construction per service class, so every process gets it built the same way."""
    sites: dict[str, int] = defaultdict(int)
    for _, name in constructions(SRC / "wiring.py"):
        sites[name] += 1
    assert dict(sites) == dict.fromkeys(SERVICES, 1)


def test_a_planted_home_parameter_and_construction_are_found(tmp_path: Path) -> None:
    src = tmp_path / "certkeeper"
    (src / "status").mkdir(parents=True)
    (src / "status" / "crl.py").write_text(
        "def publish(home: CaHome, now: int) -> None:\n    IssuanceService(home)\n"
    )
    assert ca_home_parameters(src) == {"status/crl.py": 1}
    assert service_constructions(src) == ["status/crl.py:2 IssuanceService"]


def test_a_planted_settings_import_of_a_service_is_found(tmp_path: Path) -> None:
    src = tmp_path / "certkeeper"
    for package in ("settings", "acme"):
        (src / package).mkdir(parents=True)
        (src / package / "__init__.py").write_text("")
    (src / "acme" / "ari.py").write_text("")
    (src / "settings" / "acme.py").write_text("from certkeeper.acme.ari import LIMIT\n")
    (src / "config.py").write_text("from certkeeper.settings import acme\n")
    assert settings_violations(Tree(src)) == [
        "settings/acme.py:1: the settings (settings) import acme"
    ]
