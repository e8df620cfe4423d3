"""`make run` serves the portal on the loopback interface only: its admin login and demo keys
must not be reachable from the rest of the network."""

import ast
from pathlib import Path

RUN_LOCAL = Path(__file__).resolve().parents[2] / "scripts" / "run_local.py"


def test_make_run_binds_the_web_server_to_127_0_0_1():
    tree = ast.parse(RUN_LOCAL.read_text())
    runserver_lists = [node for node in ast.walk(tree) if isinstance(node, ast.List)
                       and any(isinstance(e, ast.Constant) and e.value == "runserver"
                               for e in node.elts)]
    assert runserver_lists, "scripts/run_local.py no longer starts runserver"
    for node in runserver_lists:
        address = ast.unparse(node.elts[[getattr(e, "value", None) for e in node.elts]
                                        .index("runserver") + 1])
        assert address.startswith("f'127.0.0.1:"), address
    assert "0.0.0.0" not in RUN_LOCAL.read_text()  # noqa: S104
