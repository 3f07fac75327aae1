"""The architecture, asserted: who may import whom, and no import cycle between modules.

    retrieval     the library: never imports bot, localdiscord, discord or dotenv
    localdiscord  the Discord test server: imports neither bot nor retrieval
    bot           the application: may import both

The import graph is read from the source (every `import`, top-level or inside a function, but
not those under `if TYPE_CHECKING:`, which never run), so an import hidden in a function to dodge
a cycle still counts as an edge.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGES = ("retrieval", "bot", "localdiscord")
FORBIDDEN = {
    "retrieval": {"bot", "localdiscord", "discord", "dotenv"},
    "localdiscord": {"bot", "retrieval"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
    }


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: skips the bodies of `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _runtime_nodes(child))
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _runtime_nodes(node)


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules `module` imports: internal ones resolved to the module file they run, and
    external ones by their top-level name."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        if node.level:
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        for alias in node.names:
            submodule = f"{target}.{alias.name}"
            found.add(submodule if submodule in known else target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def test_the_graph_sees_function_local_and_relative_imports() -> None:
    graph = import_graph()
    # load_encoder imports the ONNX backend only when it is asked for.
    assert "retrieval.encode.onnx" in graph["retrieval.encode.load"]
    assert "localdiscord.harness" in graph["localdiscord.server"]
    assert "bot.chat" in graph["bot.app"]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layering(package: str) -> None:
    graph = import_graph()
    broken = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] in FORBIDDEN[package]
    )
    assert not broken, broken


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of internal modules, as a path that ends where it starts; None when none."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in graph:
                continue
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_importing_all_of_retrieval_loads_no_discord_or_dotenv() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {sorted(m for m in source_modules() if m.startswith('retrieval'))!r}:\n"
        "    if name != 'retrieval.encode.export':  # run as a child process; imports torch\n"
        "        importlib.import_module(name)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('discord', 'dotenv', 'bot')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_localdiscord_runs_without_bot_or_retrieval() -> None:
    code = (
        "import sys, localdiscord\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('bot', 'retrieval')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
