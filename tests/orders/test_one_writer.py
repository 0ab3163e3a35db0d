"""One writer: timeline events come only from ``orders.events``; views lock nothing."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("orders", "logistics", "aftersales", "integrations", "analytics", "platforms")
WRITER = ROOT / "orders" / "events.py"


def _sources(paths):
    for path in paths:
        if "migrations" in path.parts or "tests" in path.parts:
            continue
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _app_files():
    for app in APPS:
        yield from sorted((ROOT / app).rglob("*.py"))


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


WRITES = ("create", "bulk_create", "get_or_create", "update_or_create")


def _creates_event(name: str) -> bool:
    if name.split(".")[-1] == "OrderEvent":
        return True  # OrderEvent(...): a row built by hand
    head, _, method = name.rpartition(".")
    return (
        method in WRITES
        and head.split(".")[-1] in ("objects", "events")
        and (head.startswith("OrderEvent.") or head.endswith("events"))
    )


def _event_creations(tree: ast.AST) -> list[int]:
    """Lines that build or save OrderEvent rows directly."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _creates_event(_dotted(node.func))
    ]


def test_order_events_are_written_only_by_the_writer_module():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path, tree in _sources(_app_files())
        if path != WRITER
        for line in _event_creations(tree)
    ]
    assert offenders == []


def test_the_scan_sees_a_direct_creation():
    tree = ast.parse(
        "OrderEvent.objects.create(order=o)\n"
        "models.OrderEvent(order=o)\n"
        "order.events.create(type='x')\n"
        "OrderEvent.objects.filter(order=o)\n"
    )
    assert _event_creations(tree) == [1, 2, 3]


LOCKING = ("select_for_update", "lock_order", "atomic")


def _view_files():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if path.name == "views.py" or path.parent.name == "views":
                yield path


def _locking(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in LOCKING:
            found.append(f"{node.attr}:{node.lineno}")
        elif isinstance(node, ast.Name) and node.id in LOCKING:
            found.append(f"{node.id}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom) and any(
            alias.name in (*LOCKING, "transaction") for alias in node.names
        ):
            found.append(f"import:{node.lineno}")
    return found


def test_views_and_api_views_do_no_locking_of_their_own():
    views = list(_view_files())
    assert {p.relative_to(ROOT).as_posix() for p in views} >= {
        "orders/views.py",
        "orders/api/views.py",
        "logistics/views.py",
        "logistics/api/views.py",
        "aftersales/views.py",
        "aftersales/api/views.py",
    }
    offenders = [
        f"{path.relative_to(ROOT)} {hit}"
        for path, tree in _sources(views)
        for hit in _locking(tree)
    ]
    assert offenders == []


def test_the_lock_scan_sees_a_lock():
    tree = ast.parse(
        "from django.db import transaction\n"
        "with transaction.atomic():\n"
        "    Order.objects.select_for_update().get(pk=1)\n"
    )
    assert sorted(_locking(tree)) == ["atomic:2", "import:1", "select_for_update:3"]
