"""No platform knowledge in generic code: no branch on a platform code or a native status.

The test scans the source tree outside the platform packages (``oms``, ``orders``,
``logistics``, ``aftersales``, ``analytics``, ``integrations`` and ``templates``; not
``platforms``, ``tests``, ``bench``, ``soak`` or migrations) and fails, naming each
``file:line``, on:

- Python (read with ``ast``): a comparison (in an ``if``/``elif``, a ternary, a ``while``,
  a comprehension's ``if``, an ``assert``, an assignment: every ``==``, ``!=``, ``in``,
  ``not in``, ``is``) or a ``match`` (subject or case pattern) with an operand that is a
  **flagged literal**, a tuple/list/set holding one, or a module-level name the same file
  binds to one (``COLLECT_FROM = "AWAITING_COLLECTION"`` … ``== COLLECT_FROM``);
- templates: a flagged literal quoted in an ``{% if %}`` or ``{% elif %}`` tag.

A **flagged literal** is a string constant exactly equal (case-sensitive) to

- an installed platform's code (``taobao``, ``aliexpress``, ``tiktok``), or
- a native status code or alias of an installed platform's order machine or case tables
  (``WAIT_SELLER_SEND_GOODS``, ``AWAITING_COLLECTION``, ``IN_ISSUE``, ``FINISH``,
  TikTok's numeric codes …),

except the words of the unified vocabulary (every ``choices`` value of the project's
models and the TextChoices of ``orders.choices`` / ``aftersales.choices``): those are
generic words even when a platform happens to use the same spelling (the unified stage
``cancelled`` is not TikTok's ``CANCELLED``; matching is case-sensitive, and a native
code spelled exactly like a unified word would be read as the unified word). The lists
are read from the registry, so a new platform's codes are checked without editing this
test.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.apps import apps
from django.db.models import TextChoices

import aftersales.choices
import orders.choices
from orders.platforms import platforms

ROOT = Path(__file__).resolve().parent.parent
PYTHON_ROOTS = ("oms", "orders", "logistics", "aftersales", "analytics", "integrations")
TEMPLATE_ROOTS = ("templates",)
SKIPPED_PARTS = {"migrations", "__pycache__"}
# Code being moved into platform packages on other branches of issue 12: (file, function
# or module-level name). The native case parsers go to platforms/<code>/parsers.py (the
# ``payload`` branch); the sandbox's return steps become the case tables' roles (the
# ``engine`` branch). Once moved, an entry matches nothing: delete it then.
MOVING: set[tuple[str, str]] = set()


# --- what is flagged -------------------------------------------------------------------


def platform_codes() -> set[str]:
    return set(platforms())


def native_statuses() -> set[str]:
    codes: set[str] = set()
    for platform in platforms().values():
        tables = (platform.spec, *platform.cases)
        for table in tables:
            for status in table.statuses:
                codes.add(status.code)
                codes.update(getattr(status, "aliases", ()))
    return codes


def unified_vocabulary() -> set[str]:
    words: set[str] = set()
    for module in (orders.choices, aftersales.choices):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, TextChoices)
                and value is not TextChoices
            ):
                words.update(value.values)
    for model in apps.get_models():
        for field in model._meta.get_fields():
            for choice in getattr(field, "flatchoices", None) or ():
                if isinstance(choice[0], str):
                    words.add(choice[0])
    return words


def flagged_literals() -> dict[str, str]:
    """literal → why it is platform knowledge."""
    vocabulary = unified_vocabulary()
    flagged = dict.fromkeys(native_statuses() - vocabulary, "native status")
    flagged.update(dict.fromkeys(platform_codes(), "platform code"))
    return flagged


# --- Python -----------------------------------------------------------------------------


def _literals(node: ast.AST) -> list[str]:
    """String constants an operand stands for: itself, or the items of a literal
    tuple, list or set."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [v for item in node.elts for v in _literals(item)]
    return []


def _bound_names(tree: ast.Module, flagged: dict[str, str]) -> dict[str, str]:
    """Module-level names bound to a flagged literal (or a collection holding one)."""
    names: dict[str, str] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if value is None:
            continue
        if isinstance(value, ast.Call) and value.args:  # frozenset({...}), set((...))
            value = value.args[0]
        hits = [v for v in _literals(value) if v in flagged]
        for target in targets:
            if isinstance(target, ast.Name) and hits:
                names[target.id] = hits[0]
    return names


def _operand_hits(
    node: ast.AST, flagged: dict[str, str], names: dict[str, str]
) -> list[str]:
    hits = [v for v in _literals(node) if v in flagged]
    if isinstance(node, ast.Name) and node.id in names:
        hits.append(f"{node.id} = {names[node.id]!r}")
    return hits


def _pattern_hits(pattern: ast.pattern, flagged: dict[str, str]) -> list[str]:
    hits = []
    for node in ast.walk(pattern):
        if isinstance(node, ast.MatchValue):
            hits += [v for v in _literals(node.value) if v in flagged]
        if isinstance(node, ast.MatchSingleton):
            continue
    return hits


def _nodes(tree: ast.Module, where: str):
    """Every node, leaving out the bodies of the functions in ``MOVING``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and (where, node.name) in MOVING
        ):
            continue
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and (where, target.id) in MOVING
            for target in node.targets
        ):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def python_offences(path: Path, flagged: dict[str, str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = _bound_names(tree, flagged)
    found = []
    where = path.relative_to(ROOT)
    for node in _nodes(tree, str(where)):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                for hit in _operand_hits(operand, flagged, names):
                    found.append(f"{where}:{node.lineno}: compares with {hit!s}")
        elif isinstance(node, ast.Match):
            for hit in _operand_hits(node.subject, flagged, names):
                found.append(f"{where}:{node.lineno}: matches on {hit!s}")
            for case in node.cases:
                for hit in _pattern_hits(case.pattern, flagged):
                    found.append(f"{where}:{case.pattern.lineno}: case {hit!r}")
    return found


# --- templates ---------------------------------------------------------------------------

IF_TAG = re.compile(r"{%-?\s*(?:if|elif)\b(.*?)-?%}", re.S)
QUOTED = re.compile(r"""(["'])(.*?)\1""")


def template_offences(path: Path, flagged: dict[str, str]) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = []
    for tag in IF_TAG.finditer(text):
        for quoted in QUOTED.finditer(tag.group(1)):
            if quoted.group(2) in flagged:
                line = text.count("\n", 0, tag.start()) + 1
                found.append(
                    f"{path.relative_to(ROOT)}:{line}: {{% if %}} on {quoted.group(2)!r}"
                )
    return found


# --- the scan ----------------------------------------------------------------------------


def sources(roots: tuple[str, ...], suffix: str) -> list[Path]:
    return sorted(
        path
        for root in roots
        for path in (ROOT / root).rglob(f"*{suffix}")
        if not SKIPPED_PARTS & set(path.relative_to(ROOT).parts)
    )


def offences() -> list[str]:
    flagged = flagged_literals()
    found = []
    for path in sources(PYTHON_ROOTS, ".py"):
        found += sorted(python_offences(path, flagged), key=_line)
    for path in sources(TEMPLATE_ROOTS, ".html"):
        found += template_offences(path, flagged)
    return found


def _line(entry: str) -> int:
    return int(entry.split(":")[1])


def code_literals(path: Path, codes: set[str]) -> list[str]:
    """Every string constant equal to a platform code, wherever it is (a dict keyed by
    platform, a default argument …): tables of platform knowledge, not only branches."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(ROOT)
    return [
        f"{where}:{node.lineno}: the platform code {node.value!r}"
        for node in _nodes(tree, str(where))
        if isinstance(node, ast.Constant) and node.value in codes
    ]


def test_generic_code_branches_on_no_platform_code_or_native_status():
    found = offences()
    assert not found, (
        "Platform knowledge outside platforms/ (ask the registry: a capability, a field "
        "of a status, a function of the package):\n" + "\n".join(found)
    )


def test_generic_python_holds_no_platform_code_at_all():
    codes = set(platforms())
    found = [
        entry
        for path in sources(PYTHON_ROOTS, ".py")
        for entry in sorted(code_literals(path, codes), key=_line)
    ]
    assert not found, (
        "Per-platform tables outside platforms/ (declare them in the package):\n"
        + "\n".join(found)
    )


# --- the scanner itself ------------------------------------------------------------------


def test_the_flagged_literals_come_from_the_registry():
    flagged = flagged_literals()
    assert {"taobao", "aliexpress", "tiktok"} <= set(flagged)
    assert {"WAIT_SELLER_SEND_GOODS", "AWAITING_COLLECTION", "IN_ISSUE", "FINISH"} <= (
        set(flagged)
    )
    assert "CANCEL" in flagged  # an alias (TikTok CANCEL → CANCELLED)
    assert "WAIT_SELLER_AGREE" in flagged  # a case table status
    # Unified words are generic, whatever a platform spells the same way.
    assert not {"cancelled", "shipped", "refund", "open"} & set(flagged)


def test_the_scanner_finds_each_kind_of_branch(tmp_path, monkeypatch):
    monkeypatch.setattr("tests.test_platform_boundaries.ROOT", tmp_path, raising=True)
    source = tmp_path / "generic.py"
    source.write_text(
        "COLLECT_FROM = 'AWAITING_COLLECTION'\n"
        "LATE = frozenset({'IN_ISSUE'})\n"
        "def f(order, shop):\n"
        "    if order.platform == 'tiktok':\n"
        "        pass\n"
        "    x = 1 if order.native_status in ('FINISH', 'x') else 2\n"
        "    y = [o for o in shop if o.native_status == COLLECT_FROM]\n"
        "    while order.native_status not in LATE:\n"
        "        break\n"
        "    match shop.platform:\n"
        "        case 'taobao' | 'other':\n"
        "            pass\n"
        "    # unflagged: unified words, other strings, lowercase variants\n"
        "    if order.stage == 'cancelled' or order.kind != 'refund':\n"
        "        pass\n"
        "    if order.native_status == 'awaiting_collection':\n"
        "        pass\n"
        "    return {'tiktok': 1}.get(shop.platform)\n",
        encoding="utf-8",
    )
    template = tmp_path / "page.html"
    template.write_text(
        "{% if order.platform == 'aliexpress' %}x{% endif %}\n"
        '{% if a %}{% elif order.native_status == "FUND_PROCESSING" %}{% endif %}\n'
        '{% if order.stage == "shipped" %}{{ "tiktok" }}{% endif %}\n',
        encoding="utf-8",
    )
    flagged = flagged_literals()
    found = python_offences(source, flagged)
    lines = sorted(int(entry.split(":")[1]) for entry in found)
    assert lines == [4, 6, 7, 8, 11], found  # not 10: the subject is no literal
    assert "generic.py:7: compares with COLLECT_FROM = 'AWAITING_COLLECTION'" in found
    found = template_offences(template, flagged)
    assert [entry.split(":")[1] for entry in found] == ["1", "2"], found
    found = code_literals(source, {"taobao", "tiktok"})
    assert sorted(_line(entry) for entry in found) == [4, 11, 18], found
