"""schemathesis hooks (SCHEMATHESIS_HOOKS=hooks): what the OpenAPI document cannot say.

- One parameter bounds another: ?algorithm=recursive serves n <= 45 and iterative n <=
  100,000 (fibcache's defaults), fast every n up to --max-n. JSON Schema cannot tie a path
  parameter to a query parameter, so a generated valid request keeps its algorithm and gets
  an n that algorithm serves; the refusals above those limits have tests of their own.
  Recursive ones stay at n <= 30: the article's naive recursion takes seconds from F(40) on,
  by design, and the suite is bounded in time.
- F(n) has about 0.209 n digits, and Python (3.11+) refuses to parse an integer of more than
  4,300 digits, n above about 20,500, unless told otherwise: schemathesis reported exactly
  that on its first run. The API's answer is exact JSON; a Python client lifts the limit.
- Redirects: schemathesis' stateful phase follows the 301s to the canonical URL (links it
  infers from Location) with an n taken from the header, a string: bounded like the others.
- Two servers: the document places each operation on the public server, the operations
  server or both. A run tests one server (FIBCACHE_FUZZ_SERVER, a server URL of the
  document) with the operations the document places there, so that what the server refuses
  (the public one: DELETE) is checked as refused, with the right Allow.
"""
import os
import sys

import schemathesis
from openapi import operations, placed_on  # Tests/Support (the test puts it on PYTHONPATH)

sys.set_int_max_str_digits(0)

# Within fibcache's defaults: --max-recursive-n 45, --max-iterative-n 100,000.
ALGORITHM_LIMITS = {"recursive": 30, "iterative": 100_000}


@schemathesis.hook
def before_load_schema(ctx, raw_schema):
    server = os.environ.get("FIBCACHE_FUZZ_SERVER")
    if not server:
        return
    placed = placed_on(raw_schema, server)
    for path, method, _, _ in list(operations(raw_schema)):
        if method.upper() not in placed.get(path, ()):
            del raw_schema["paths"][path][method]
    for path in set(raw_schema["paths"]) - set(placed):
        del raw_schema["paths"][path]


@schemathesis.hook
def map_case(ctx, case):
    algorithm = (case.query or {}).get("algorithm")  # a list when repeated (?algorithm=a&algorithm=b)
    limit = ALGORITHM_LIMITS.get(algorithm) if isinstance(algorithm, str) else None
    n = (case.path_parameters or {}).get("n")
    # The stateful phase takes n from a redirect's Location (/api/fibonacci/number/<n>/): a string.
    if isinstance(n, str) and n.isascii() and n.isdigit():
        n = int(n)
    # Above 10^6 is invalid input (negative tests): refused whatever the algorithm, kept.
    if limit is not None and isinstance(n, int) and limit < n <= 1_000_000:
        case.path_parameters["n"] = n % (limit + 1)
    return case
