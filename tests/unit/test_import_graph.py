"""The packages' import graph reads one way (ARCHITECTURE.md, "Data flows one way"):

- no cycle among the imports of `app/`, `backend/`, `training/` and `catalog/`, counting those inside
  functions too (moving an import into a function hides a cycle, it does not remove it);
- nothing in `training/`, `backend/` or `catalog/` imports `app/`.

Read from the source with `ast`; nothing is imported.
"""

import ast
from functools import cache
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "backend", "training", "catalog")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
           if "migrations" not in p.parts}


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The project modules one import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
            package = package[:len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    found = []
    for name in names:
        while name and name not in MODULES:  # `import a.b.c` where c is a name, or a package's submodule
            name = name.rpartition(".")[0]
        if name and name != module:
            found.append(name)
    return found


@cache
def import_graph() -> nx.DiGraph:
    """Module -> project module it imports (anywhere in its source), with the line of the import."""
    graph = nx.DiGraph()
    for module, path in MODULES.items():
        graph.add_node(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(module, node):
                graph.add_edge(module, target, line=node.lineno)
    return graph


def cycles(graph: nx.DiGraph) -> list[str]:
    """One cycle of each strongly connected group of modules, as `a (line n) -> b (line m) -> a`."""
    described = []
    for component in nx.strongly_connected_components(graph):
        if len(component) > 1:
            cycle = nx.find_cycle(graph.subgraph(component))
            described.append(" -> ".join(f"{a} (line {graph.edges[a, b]['line']})" for a, b in cycle)
                             + f" -> {cycle[0][0]}")
    return described


def test_the_walk_sees_the_imports_it_should():
    graph = import_graph()
    assert len(MODULES) > 50
    assert graph.has_edge("backend.graphs", "backend.served")
    assert graph.has_edge("backend.importer", "backend.graphs")
    assert graph.has_edge("backend.service", "backend.settings")
    planted = nx.DiGraph(graph)  # the cycle issue 17 found: graphs <-> importer
    planted.add_edge("backend.graphs", "backend.importer", line=0)
    assert cycles(planted) and "backend.importer" in cycles(planted)[0]


def test_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(found)


@pytest.mark.parametrize("package", ["backend", "training", "catalog"])
def test_nothing_below_app_imports_app(package):
    wrong = [f"{a} (line {d['line']}) imports {b}" for a, b, d in import_graph().edges(data=True)
             if a.split(".")[0] == package and b.split(".")[0] == "app"]
    assert not wrong, "\n".join(wrong)


def test_no_private_name_is_imported_from_another_package():
    """`from backend.x import _name` in `training/` (or `bench/`), or `service._name` on a module imported
    from another package, reaches into that package's insides: what is shared is public (STYLE.md); tests
    may reach in to fake a failure."""
    crossing = []
    for pkg in (*PACKAGES, "bench"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text())
            modules = set()  # local names bound to another package's modules
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    if node.module.split(".")[0] in PACKAGES and node.module.split(".")[0] != pkg:
                        for alias in node.names:
                            if alias.name.startswith("_"):
                                crossing.append(f"{path.relative_to(ROOT)}: {node.module}.{alias.name}")
                            if f"{node.module}.{alias.name}" in MODULES:
                                modules.add(alias.asname or alias.name)
                elif isinstance(node, ast.Import):
                    modules |= {alias.asname for alias in node.names if alias.asname
                                and alias.name.split(".")[0] in PACKAGES and alias.name.split(".")[0] != pkg}
            crossing += [f"{path.relative_to(ROOT)}: {node.value.id}.{node.attr}" for node in ast.walk(tree)
                         if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                         and node.value.id in modules and node.attr.startswith("_")
                         and not node.attr.startswith("__")]
    assert crossing == []
