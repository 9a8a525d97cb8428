"""The line between the two shipped packages: the plugin never needs the bundle; the bundle checks the plugin.

The api-server and the triggerer load no DAG bundle, so every module of ``reliable_etl_plugin``
must import with ``reliable_etl`` absent; and a bundle version that needs a newer plugin than
the image holds must say so at import, not fail later on a missing name.
"""

from __future__ import annotations

import ast
import subprocess
import sys

from reliable_etl_dev import ROOT

PLUGIN = ROOT / "plugin" / "reliable_etl_plugin"


def _plugin_modules() -> list[str]:
    return [
        ".".join(path.relative_to(PLUGIN.parent).with_suffix("").parts).removesuffix(".__init__")
        for path in sorted(PLUGIN.rglob("*.py"))
    ]


def test_no_plugin_module_names_the_bundle() -> None:
    """Except the `etl` launcher, whose job is to run the bundle's command: it finds the bundle first."""
    found = []
    for path in PLUGIN.rglob("*.py"):
        if path.name == "launcher.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n == "reliable_etl" or n.startswith("reliable_etl.")]
    assert found == []


def test_every_plugin_module_imports_where_the_bundle_is_absent() -> None:
    """As in the api-server and the triggerer: ``import reliable_etl`` fails there."""
    code = (
        "import importlib, sys; sys.modules['reliable_etl'] = None\n"  # None: any import of it raises
        f"for name in {_plugin_modules()!r}: importlib.import_module(name)\n"
        "from reliable_etl_plugin.dashboard.api import create_app; create_app()\n"
        "print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")


def test_a_bundle_that_needs_a_newer_plugin_says_to_upgrade_the_image() -> None:
    code = "import reliable_etl_plugin; reliable_etl_plugin.API = 0; import reliable_etl"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode != 0
    assert "ImportError: this bundle version needs reliable-etl-plugin with API 1 or later" in proc.stderr
    assert "upgrade the Airflow image" in proc.stderr
