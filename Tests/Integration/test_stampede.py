"""Many concurrent cold requests for one n compute it once, across two processes."""
import threading

from conftest import fastcgi_status

API = "/api/fibonacci/number"


def test_64_cold_requests_two_processes_one_computation(make_stack):
    # Requests for a value being computed only wait for it, but each holds a worker, and
    # a quarter of the workers stay for hits: 48 per process take nginx's 32 at once.
    stack = make_stack(instances=2, workers=48, fibcache_args=["--max-iterative-n", "200000"])
    before = [fastcgi_status(sock) for sock in stack.sockets]
    n = 150_000  # iterative: long enough (hundreds of ms) for all 64 to overlap
    results = []
    lock = threading.Lock()
    start = threading.Barrier(64)

    def worker():
        start.wait()
        status, headers, body = stack.get(f"{API}/{n}/?algorithm=iterative", timeout=60)
        with lock:
            results.append((status, headers.get("x-cache"), body))

    threads = [threading.Thread(target=worker) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert len(results) == 64
    bodies = {body for _, _, body in results}
    assert len(bodies) == 1 and all(status == 200 for status, _, _ in results)
    expected = stack.get(f"{API}/{n}/")[2]
    assert bodies == {expected}
    after = [fastcgi_status(sock) for sock in stack.sockets]
    computations = [a["computations"] - b["computations"] for a, b in zip(after, before)]
    served = [a["requests"] - b["requests"] for a, b in zip(after, before)]
    # Both processes served part of the burst (nginx balanced it), so the lock, not
    # luck, is what kept the second process from computing it too.
    assert all(count > 0 for count in served), f"requests per process: {served}"
    assert sum(computations) == 1, f"computations per process: {computations}"
    assert stack.redis.cli("exists", f"fibonacci_{n}:lock") == "0", "the lock is released"
