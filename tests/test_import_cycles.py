"""No package of the workspace imports itself in a circle (``.ci/import_cycles.py``)."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
checker = runpy.run_path(str(ROOT / ".ci" / "import_cycles.py"))


def test_no_package_has_an_import_cycle() -> None:
    assert checker["find_all"](ROOT) == []


def test_the_checker_sees_lazy_and_type_checking_cycles(tmp_path: Path) -> None:
    pkg = tmp_path / "packages" / "demo" / "src" / "demo"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import thing\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")  # a lazy import: still a cycle
    (pkg / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..d import D\n"
    )
    (pkg / "d.py").write_text("import demo.sub.c\n")
    (pkg / "e.py").write_text("from . import a\nfrom .sub import c\n")  # no cycle through e
    assert checker["find_all"](tmp_path) == [
        "demo: import cycle: demo.a <-> demo.b",
        "demo: import cycle: demo.d <-> demo.sub.c",
    ]
