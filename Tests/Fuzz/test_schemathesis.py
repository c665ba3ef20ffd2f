"""The API fuzzed against its OpenAPI document (www/openapi.json) by schemathesis, with all
of its checks (no 5xx, statuses, headers and bodies as documented, valid input accepted,
invalid input refused, undeclared methods 405 with Allow), through real nginx + fibcache +
Redis on loopback: the public server and the operations server, each with the operations the
document places on it. Bounded: examples per operation and a time limit per run; requests
one at a time (fibcache refuses misses with 503 by design when a slow one holds the
computation slots, and schemathesis counts any 5xx as a finding).

FIBCACHE_FUZZ_EXAMPLES and FIBCACHE_FUZZ_SEED (printed) widen or vary a run.
"""
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

HERE = Path(__file__).resolve().parent
EXAMPLES = os.environ.get("FIBCACHE_FUZZ_EXAMPLES", "60")
SEED = os.environ.get("FIBCACHE_FUZZ_SEED", "1")
TIME_LIMIT = 300


@pytest.mark.parametrize("server", ["public", "operations"])
def test_schemathesis_finds_nothing(stack, server, tmp_path):
    # The document names production's addresses; each run points schemathesis at the stack's.
    document_url, port = {"public": ("http://127.0.0.1", stack.http_port),
                          "operations": ("http://127.0.0.1:8002", stack.ops_port)}[server]
    command = [str(ROOT / "scripts" / "schemathesis"), "run", f"http://127.0.0.1:{stack.http_port}/openapi.json",
               "--url", f"http://127.0.0.1:{port}", "--checks", "all", "--max-examples", EXAMPLES, "--seed", SEED,
               "--workers", "1", "--request-timeout", "30", "--generation-database", "none", "--no-color"]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="hooks", PYTHONPATH=f"{HERE}:{ROOT / 'Tests' / 'Support'}", FIBCACHE_FUZZ_SERVER=document_url)
    # Its working files (.hypothesis, .schemathesis) stay in the temporary directory.
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIME_LIMIT)
    summary = run.stdout[run.stdout.find("SUMMARY"):] if "SUMMARY" in run.stdout else run.stdout[-3000:]
    print(f"schemathesis on the {server} server (seed {SEED}, {EXAMPLES} examples per operation):\n{summary}")
    assert run.returncode == 0, f"{run.stdout[-20000:]}\n{run.stderr[-3000:]}"
    assert "No issues found" in run.stdout
    tested = int(next(line.split("/")[0].split()[-1] for line in run.stdout.splitlines() if "Selected:" in line))
    assert tested == {"public": 2, "operations": 11}[server], "the operations the document places on the server"
