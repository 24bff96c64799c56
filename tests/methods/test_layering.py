"""`training/` sits above `methods/`: a method, its losses, models, data and config schema are
read, built and tested without importing the trainer."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import anatomy_ssl

PACKAGE_ROOT = Path(anatomy_ssl.__file__).parent
#: Packages below `training/`: none of their modules may import it, directly or through others.
BELOW_TRAINING = ("methods", "losses", "models", "data", "anatomy", "transforms", "configs")
FORBIDDEN = "anatomy_ssl.training"


def _modules(package: str) -> list[tuple[str, Path]]:
    """`(dotted name, path)` of every module of `anatomy_ssl.<package>`, the package included."""
    found = []
    for path in sorted((PACKAGE_ROOT / package).rglob("*.py")):
        parts = path.relative_to(PACKAGE_ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(("anatomy_ssl", *parts)), path))
    return found


def _imported_names(module: str, path: Path) -> set[str]:
    """Every absolute module name `path` imports (relative imports resolved), at any depth of the
    file (function-level and `TYPE_CHECKING` imports count too)."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            names.add(base)
            # `from anatomy_ssl import training` imports the submodule
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _is_training(name: str) -> bool:
    return name == FORBIDDEN or name.startswith(FORBIDDEN + ".")


@pytest.mark.parametrize("package", BELOW_TRAINING)
def test_no_module_below_training_imports_it(package):
    modules = _modules(package)
    assert modules, f"no modules found under anatomy_ssl.{package}"
    offenders = {
        module: sorted(name for name in _imported_names(module, path) if _is_training(name))
        for module, path in modules
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_importing_every_module_below_training_does_not_load_it():
    """Also catches an import through a third package (e.g. `evaluation/`, which may use it)."""
    modules = [module for package in BELOW_TRAINING for module, _ in _modules(package)]
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
