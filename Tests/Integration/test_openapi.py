"""The OpenAPI 3.1 document (issue 17), www/openapi.json, served by nginx at /openapi.json: well
formed, naming exactly the routes the code answers, and each documented operation answering one
of its documented statuses through the server the document names."""
import json
import re

from conftest import ROOT
from openapi import operations, placed_on  # Tests/Support, on the path through conftest

DOC = json.loads((ROOT / "www" / "openapi.json").read_text())


def resolve(ref):
    node = DOC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_the_document_is_well_formed():
    assert DOC["openapi"].startswith("3.1.") and DOC["info"]["title"] and DOC["info"]["version"]
    for ref in refs(DOC):
        assert ref.startswith("#/") and resolve(ref) is not None, ref
    ids = [op.get("operationId") for _, _, op, _ in operations(DOC) if op.get("operationId")]
    assert len(ids) == len(set(ids))
    for path, method, op, _ in operations(DOC):
        assert op["responses"], (path, method)
        assert all(re.fullmatch(r"[1-5][0-9][0-9]", status) for status in op["responses"]), (path, method)
        for name in re.findall(r"{(\w+)}", path):
            params = DOC["paths"][path].get("parameters", []) + op.get("parameters", [])
            assert any(p["name"] == name and p["in"] == "path" and p["required"] for p in params), (path, name)


def test_it_names_exactly_the_routes_the_code_answers():
    source = (ROOT / "Sources" / "FibcacheService" / "Route.swift").read_text()
    routes = set(re.findall(r'case "(/[a-z/]*)": self = ', source))
    prefix = re.search(r'fibonacciPrefix = "([^"]+)"', source).group(1)
    routes.add(prefix + "{n}/")
    assert routes == set(DOC["paths"]), "every route the code answers is documented, and nothing else"


def test_nginx_serves_it(stack):
    status, headers, body = stack.get("/openapi.json")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == DOC


def test_every_operation_answers_a_documented_status(stack):
    stack.get("/api/fibonacci/number/5/")
    for path, method, op, servers in operations(DOC):
        for server in servers:
            port = stack.ops_port if server["url"].endswith(":8002") else stack.http_port
            status, headers, _ = stack.request(method.upper(), path.replace("{n}", "5"), port=port)
            assert str(status) in op["responses"], (method, path, server["url"], status)
            for name in op["responses"][str(status)].get("headers", {}):
                assert name.lower() in headers, (method, path, server["url"], status, name)
    # The other server refuses what it does not serve, as documented.
    assert stack.request("DELETE", "/api/fibonacci/number/5/")[0] == 405
    assert stack.get("/status")[0] == 404


def test_allow_names_what_the_document_places_on_each_server(stack):
    """schemathesis found the document placing DELETE on the public server (which refuses it)
    and the API on the public server only (the operations server answers it too)."""
    for server_url, port in (("http://127.0.0.1", stack.http_port), ("http://127.0.0.1:8002", stack.ops_port)):
        for path, methods in placed_on(DOC, server_url).items():
            for method in ("OPTIONS", "TRACE"):
                status, headers, _ = stack.request(method, path.replace("{n}", "5"), port=port)
                assert status == 405 and set(headers["allow"].split(", ")) == methods, (server_url, path, method)


def test_the_documented_bound_of_n_is_the_servers(stack):
    """schemathesis found n documented as any digit string; the server refuses n above --max-n."""
    schema = DOC["paths"]["/api/fibonacci/number/{n}/"]["parameters"][0]["schema"]
    assert (schema["type"], schema["minimum"]) == ("integer", 0)
    assert stack.request("HEAD", f"/api/fibonacci/number/{schema['maximum']}/")[0] == 200
    assert stack.request("HEAD", f"/api/fibonacci/number/{schema['maximum'] + 1}/")[0] == 400
