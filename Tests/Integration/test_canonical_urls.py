"""Issue 23, requirement 3: one URL per value. Any other spelling of F(n)'s URL —
leading zeros, percent-encoded digits, no trailing slash, unknown parameters,
`algorithm=fast` spelled out — is a 301 to the canonical one, never a 200, so a cache
keyed on the URL (nginx's micro-cache, a CDN) holds one copy of each value. Before:
each spelling was a 200 and a cache entry of its own."""
import json
import os

import pytest

API = "/api/fibonacci/number"


def spellings(n, count):
    """`count` different spellings of F(n)'s URL, none canonical."""
    digits = str(n)
    encoded = "".join(f"%{ord(c):02X}" for c in digits)
    forms = [f"{API}/{digits}", f"{API}/{encoded}/", f"{API}/%{ord(digits[0]):02x}{digits[1:]}/",
             f"{API}/{digits}/?algorithm=fast", f"{API}/{digits}/?algorithm=f%61st", f"{API}/{digits}/?",
             f"{API}/{digits}/?algorithm=fast&algorithm=iterative", f"{API}//{digits}/", f"{API}/{digits}//",
             f"{API}/./{digits}/"]
    forms += [f"{API}/{'0' * zeros}{digits}/" for zeros in range(1, 31)]
    forms += [f"{API}/{digits}/?x={i}" for i in range(30)]
    forms += [f"{API}/{'0' * (i % 5)}{digits}?utm_source={i}" for i in range(30)]
    assert len(set(forms)) >= count
    return forms[:count]


@pytest.mark.parametrize("target, canonical", [
    (f"{API}/40", f"{API}/40/"),
    (f"{API}/0040/", f"{API}/40/"),
    (f"{API}/%34%30/", f"{API}/40/"),
    (f"{API}/40/?x=1", f"{API}/40/"),
    (f"{API}/40/?algorithm=fast", f"{API}/40/"),
    (f"{API}/40/?algorithm=iterative&x=1", f"{API}/40/?algorithm=iterative"),
    (f"{API}/00/", f"{API}/0/"),
])
def test_other_spellings_are_redirected_to_the_canonical_url(stack, target, canonical):
    for method in ("GET", "HEAD"):
        status, headers, body = stack.request(method, target)
        assert status == 301, (method, target, body)
        assert headers["location"] == canonical
        assert headers["cache-control"] == "public, max-age=86400"
        assert "etag" not in headers and "x-cache" not in headers
        if method == "GET":
            assert json.loads(body) == {"location": canonical}
    status, headers, _ = stack.get(canonical)
    assert status == 200 and headers["etag"] == f'"fibonacci-{canonical.split("/")[4]}-json1"'


def test_invalid_values_stay_400(stack):
    for target in (f"{API}/x/", f"{API}/40/?algorithm=slow", f"{API}/99999999/", f"{API}/0040/?algorithm=quantum"):
        assert stack.get(target)[0] == 400, target


def test_any_spelling_evicts(stack):
    stack.get(f"{API}/41/")
    status, _, body = stack.ops("DELETE", f"{API}/0041")
    assert (status, json.loads(body)) == (200, {"n": 41, "evicted": True})


def test_100_spellings_of_one_value_fill_one_micro_cache_entry(make_stack):
    stack = make_stack(render_args=["--micro-cache"])
    cache_dir = stack.dir / "nginx-micro-cache"

    def entries():
        return sum(len(files) for _, _, files in os.walk(cache_dir))

    n = 1000
    before = entries()  # the stack's readiness probe: F(0)
    statuses = {}
    for target in spellings(n, 100):
        status, headers, _ = stack.get(target)
        statuses[target] = status
        assert status != 200, f"{target}: a 200 under a URL that is not the value's"
        assert headers.get("location") == f"{API}/{n}/", target
    print(f"100 spellings: statuses {sorted(set(statuses.values()))}, micro-cache entries {entries() - before}")
    assert set(statuses.values()) == {301}
    # The canonical URL, asked twice: kept once, then served from the micro-cache.
    assert stack.get(f"{API}/{n}/")[1]["x-micro-cache"] == "MISS"
    assert stack.get(f"{API}/{n}/")[1]["x-micro-cache"] == "HIT"
    assert entries() == before + 1, "F(1000) once: nothing for the 100 spellings"
