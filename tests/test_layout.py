"""models/ imports run one way: data -> nets -> reading -> evaluation -> training (models/README.md)."""
import ast
from pathlib import Path

MODELS = Path(__file__).resolve().parent.parent / "models"
LAYERS = ("data", "nets", "reading", "evaluation", "training")


def imported_layers(path):
    """The models.<layer> packages a file imports, anywhere in it (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "models" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
    return found


def test_every_layer_imports_only_itself_and_the_layers_below():
    offenders = []
    for rank, layer in enumerate(LAYERS):
        for path in sorted((MODELS / layer).glob("*.py")):
            above = {other for other in imported_layers(path) if LAYERS.index(other) > rank}
            if above:
                offenders.append(f"{path.relative_to(MODELS)} imports {sorted(above)}")
    assert not offenders, offenders


def test_no_module_is_left_at_the_top_of_models_but_the_registry():
    assert sorted(p.name for p in MODELS.glob("*.py")) == ["__init__.py"]
