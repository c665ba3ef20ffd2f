"""What the OpenAPI document (www/openapi.json) says, read the same way by the document's tests
(Tests/Integration/test_openapi.py) and by the fuzzing suite's hooks (Tests/Fuzz/hooks.py, in
schemathesis' own Python): its operations, and the servers each is placed on."""

METHODS = ("get", "head", "put", "post", "delete", "options", "patch", "trace")


def operations(doc):
    """(path, method, operation, servers) for each operation; servers as OpenAPI resolves them:
    the operation's, else its path's, else the document's."""
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method], (item[method].get("servers") or item.get("servers") or doc["servers"])


def placed_on(doc, server_url):
    """{path: the methods, upper case, that the document places on that server}."""
    placed = {}
    for path, method, _, servers in operations(doc):
        if server_url in (s["url"] for s in servers):
            placed.setdefault(path, set()).add(method.upper())
    return placed
