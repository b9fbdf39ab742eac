"""Fail on an import cycle inside any package of the workspace (read from source, nothing run).

``python .ci/import_cycles.py [ROOT]`` prints each cycle and exits 1 if there is one. An edge
``a -> b`` is any import of module ``b`` of the same package by module ``a``: at module level,
under ``TYPE_CHECKING`` (typing against a module is a dependency too) or inside a function (a
lazy import only hides a cycle). Break one by moving the shared piece into its own module or by
typing against a ``Protocol``. Imports by name through a registry string are not edges.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def module_name(src: Path, path: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(current: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_pkg:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def edges(src: Path, package: str) -> dict[str, set[str]]:
    modules = {module_name(src, p): p for p in (src / package).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mod, is_pkg, node)
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for t in targets:
                # the longest module name that prefixes the target
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != mod and not mod.startswith(t + "."):
                    graph[mod].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def find_all(root: Path) -> list[str]:
    """One line per cycle found under ``root/packages/*/src``."""
    lines = []
    for src in sorted(root.glob("packages/*/src")):
        for pkg in sorted(p.name for p in src.iterdir() if (p / "__init__.py").is_file()):
            for comp in cycles(edges(src, pkg)):
                lines.append(f"{pkg}: import cycle: {' <-> '.join(comp)}")
    return lines


if __name__ == "__main__":
    found = find_all(Path(sys.argv[1] if len(sys.argv) > 1 else "."))
    for line in found:
        print(line)
    sys.exit(1 if found else 0)
