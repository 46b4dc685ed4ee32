"""The layering of docs/ARCHITECTURE.md: no import cycle between modules, `operators` never imports
`restore`, `restore.diffusion` imports nothing from the rest of `restore` (static, from the source)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> dict:
    mods = {}
    for pkg in ("restore", "operators"):
        for f in (ROOT / pkg).rglob("*.py"):
            name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = f
    return mods


def _imports(name: str, path: Path, mods: dict) -> set:
    """Modules of the project imported anywhere in ``name`` (function-level imports included)."""
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in mods]
            targets = subs + ([mod] if len(subs) < len(node.names) else [])
        for t in targets:
            while t not in mods and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in mods and t != name:
                out.add(t)
    return out


def test_no_import_cycles_and_layers_point_down():
    mods = _modules()
    graph = {m: _imports(m, f, mods) for m, f in mods.items()}
    assert not {d for m, ds in graph.items() if m.startswith("operators") for d in ds if d.startswith("restore")}
    assert not {d for d in graph["restore.diffusion"] if d.startswith("restore")}
    # depth-first search for a cycle
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " → ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
