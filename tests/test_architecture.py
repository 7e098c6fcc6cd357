"""The house rules of the package layout (docs/architecture.md), checked mechanically.

- the layers of pyproject's import-linter contracts (dependencies point down, no cycles, the
  engine never imports the ``spiders`` project package);
- no private name (``_x``) is imported from another module;
- project modules are imported at the top of a module, not inside functions (where an import
  hides a cycle), except where a module loads a heavy library only where it is used;
- each request.meta key and exit code is defined in one module.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("newsarchive", "spiders")
# module -> why it imports project modules inside functions
LAZY_IMPORTS = {
    "newsarchive/extract/analysis.py": "trafilatura is loaded in the extraction workers only",
    # the crawl and the revisit policy use its page type names; metadata loads trafilatura
    "newsarchive/extract/pagetype.py": "trafilatura is loaded in the extraction workers only",
}


def project_modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def private_imports(source: str) -> list[tuple[int, str, str]]:
    """(line, module, name) of every private name imported from a project module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGES):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append((node.lineno, node.module, alias.name))
    return found


def local_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every project import inside a function."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(PACKAGES):
                    found.append((inner.lineno, inner.module))
                elif isinstance(inner, ast.Import):
                    found += [(inner.lineno, a.name) for a in inner.names
                              if a.name.startswith(PACKAGES)]
    return found


def assigned_names(source: str) -> set[str]:
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_layer_contracts_are_kept() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is not installed (pip install '.[test]')"
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_private_name_crosses_a_module_boundary() -> None:
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {name} from {module}"
        for path in project_modules()
        for line, module, name in private_imports(path.read_text())
    ]
    assert not problems, "\n".join(problems)


def test_project_imports_are_at_module_level() -> None:
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in project_modules()
        if str(path.relative_to(ROOT)) not in LAZY_IMPORTS
        for line, module in local_imports(path.read_text())
    ]
    assert not problems, "\n".join(problems)


def test_meta_keys_and_exit_codes_are_defined_once() -> None:
    homes = {"_META_KEY": "newsarchive/base/meta.py", "EXIT_": "newsarchive/base/exitcodes.py"}
    problems = []
    for path in project_modules():
        where = str(path.relative_to(ROOT))
        for name in assigned_names(path.read_text()):
            for marker, home in homes.items():
                if marker in name and where != home:
                    problems.append(f"{where}: {name} belongs in {home}")
    assert not problems, "\n".join(problems)


def test_the_checks_see_what_they_forbid() -> None:
    source = (
        "from newsarchive.store.state import _article_from, FetchState\n"
        "def f():\n    from newsarchive.cli import main\n    import newsarchive.config\n"
        "VIA_META_KEY = 'x'\n"
    )
    assert private_imports(source) == [(1, "newsarchive.store.state", "_article_from")]
    assert local_imports(source) == [(3, "newsarchive.cli"), (4, "newsarchive.config")]
    assert "VIA_META_KEY" in assigned_names(source)
