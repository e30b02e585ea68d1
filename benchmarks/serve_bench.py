"""derivcheck serve: start-up, warm check latency against the cold CLI, 20 concurrent clients,
and the server's memory after many checks.

The server runs as ``derivcheck serve`` in its own process (as a student's machine would run it;
the rate limit raised so the benchmark's clients are not throttled). Answers are the labelled
set's common answers (``tests/data/labelled_answers.yaml``, labels correct and wrong), a fixed
sample of them. Figures:

- start-up: from the command to the first answered request;
- latency: a first check of each sampled answer on the warm server (nothing cached) and a
  repeat (the server's cache), median and p99, against ``derivcheck answer --json`` run cold
  (a new process per answer, as a student runs it today) on a few of the same answers;
- 20 concurrent clients, each sending answers nobody sent before: answers/s, median, p99,
  errors (HTTP failures; must be 0) and "busy" verdicts (a check that could not start in time);
- memory: resident set of the server and its workers after start and after many checks
  (10,000; unique unreadable answers among them, so the answer cache fills towards its bound).
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

from . import Table

CLIENTS = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _p(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Client:
    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def post(self, path: str, payload: dict) -> tuple[int, dict | None]:
        body = json.dumps(payload).encode()     # bytes: headers and body leave in one packet
        for attempt in range(2):
            try:
                self.conn.request("POST", path, body, {"content-type": "application/json"})
                r = self.conn.getresponse()
                data = r.read()
                return r.status, (json.loads(data) if data else None)
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str):
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        return r.status, json.loads(r.read())

    def close(self):
        self.conn.close()


def _rss(pid: int) -> int:
    """Proportional set size (resident, shared pages split between sharers; the resident set
    where PSS is not available) of ``pid`` and its descendants (the sandboxed workers), bytes."""
    import psutil
    try:
        proc = psutil.Process(pid)
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            info = p.memory_full_info()
            total += getattr(info, "pss", info.rss)
        except psutil.Error:
            pass
    return total


def _start(jobs: int) -> tuple[subprocess.Popen, int, float]:
    port = _free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "derivations.cli", "serve", "--port", str(port), "--jobs", str(jobs),
                             "--rate", "1000000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"derivcheck serve exited with {proc.returncode}")
        try:
            c = Client(port)
            status, _ = c.get("/api/stats")
            c.close()
            if status == 200:
                return proc, port, time.perf_counter() - started
        except OSError:
            time.sleep(0.05)
        if time.perf_counter() - started > 300:
            proc.kill()
            raise RuntimeError("derivcheck serve did not answer within 300 s")


def _items(quick: bool):
    from derivations.grading import labelled
    common = [i for i in labelled.load(with_generated=False) if i.label in ("correct", "wrong") and not i.gap]
    sample = common[::8][: (12 if quick else 120)]
    rest = [i for k, i in enumerate(common) if k % 8]
    return sample, rest


def _timed(client: Client, path: str, payload: dict) -> tuple[float, int, dict | None]:
    t0 = time.perf_counter()
    status, data = client.post(path, payload)
    return time.perf_counter() - t0, status, data


def _cold_cli(items) -> list[float]:
    out = []
    for i in items:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "derivations.cli", "answer", i.slot, i.latex, "--json"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - t0)
    return out


def _concurrent(port: int, per_client: list[list], path="/api/answer") -> dict:
    latencies, errors, busy, lock = [], [], [0], threading.Lock()

    def work(items):
        c = Client(port)
        try:
            for payload in items:
                try:
                    dt, status, data = _timed(c, path, payload)
                except Exception as exc:  # noqa: BLE001 - counted, never hidden
                    with lock:
                        errors.append(type(exc).__name__)
                    continue
                with lock:
                    if status != 200:
                        errors.append(status)
                    else:
                        latencies.append(dt)
                        if data and data.get("verdict") == "unchecked" and "busy" in data.get("message", ""):
                            busy[0] += 1
        finally:
            c.close()

    threads = [threading.Thread(target=work, args=(items,)) for items in per_client]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    n = sum(len(x) for x in per_client)
    return {"requests": n, "wall_s": wall, "answers_per_s": len(latencies) / wall if wall else None,
            "median_s": statistics.median(latencies) if latencies else None, "p99_s": _p(latencies, 0.99),
            "errors": len(errors), "busy": busy[0], "error_kinds": sorted(set(map(str, errors)))}


def run(quick: bool = False, **_) -> dict:
    started = time.perf_counter()
    jobs = 2
    sample, rest = _items(quick)
    proc, port, startup = _start(jobs)
    tables = []
    try:
        rss_start = _rss(proc.pid)
        c = Client(port)
        first = [_timed(c, "/api/answer", {"slot": i.slot, "latex": i.latex}) for i in sample]
        repeat = [_timed(c, "/api/answer", {"slot": i.slot, "latex": i.latex}) for i in sample]
        c.close()
        first_s = [t for t, s, _ in first if s == 200]
        repeat_s = [t for t, s, _ in repeat if s == 200]
        cold = _cold_cli(sample[: (2 if quick else 5)])
        lat = Table("serve: check latency (warm server vs cold CLI, same answers)",
                    ["path", "answers", "median s", "p99 s", "max s"])
        lat.add("derivcheck answer (cold process)", len(cold), statistics.median(cold), _p(cold, 0.99), max(cold))
        lat.add("serve, first check (warm, uncached)", len(first_s), statistics.median(first_s), _p(first_s, 0.99),
                max(first_s))
        lat.add("serve, repeated answer (cache)", len(repeat_s), statistics.median(repeat_s), _p(repeat_s, 0.99),
                max(repeat_s))
        lat.notes.append(f"start-up of `derivcheck serve` (command to first answered request): {startup:.2f} s")
        lat.notes.append(f"median speed-up of a warm first check over the cold CLI: "
                         f"{statistics.median(cold) / statistics.median(first_s):.0f}x; of a repeated answer: "
                         f"{statistics.median(cold) / statistics.median(repeat_s):.0f}x")
        lat.notes.append(f"answers: every 8th of the labelled set's correct and wrong answers ({len(sample)}); "
                         f"the CLI on the first {len(cold)} of them; {jobs} sandboxed workers")
        lat.notes.append(f"HTTP errors in these runs: {sum(1 for _, s, _ in first + repeat if s != 200)}")
        tables.append(lat.as_dict())

        per = 2 if quick else 10
        fresh = rest[: CLIENTS * per]
        per_client = [[{"slot": i.slot, "latex": i.latex} for i in fresh[k::CLIENTS]] for k in range(CLIENTS)]
        conc = _concurrent(port, per_client)
        ct = Table(f"serve: {CLIENTS} concurrent clients, answers nobody sent before", ["figure", "value"])
        for key in ("requests", "wall_s", "answers_per_s", "median_s", "p99_s", "errors", "busy"):
            ct.add(key, conc[key])
        if conc["error_kinds"]:
            ct.notes.append(f"errors: {', '.join(conc['error_kinds'])}")
        ct.notes.append(f"{jobs} sandboxed workers on {os.cpu_count()} cores; 'busy' = unchecked because no "
                        "worker was free within the wait (counted, not an error)")
        tables.append(ct.as_dict())

        total = 1000 if quick else 10_000
        rss_warm = _rss(proc.pid)
        pool = [{"slot": i.slot, "latex": i.latex} for i in sample + fresh]
        payloads = []
        for k in range(total):
            if k % 2:                              # a unique unreadable answer: a new cache entry
                payloads.append({"slot": "gan.square.f", "latex": rf"\frac{{t}}{{{k}"})
            else:
                payloads.append(pool[k % len(pool)])
        many = _concurrent(port, [payloads[k::CLIENTS] for k in range(CLIENTS)])
        rss_after = _rss(proc.pid)
        c = Client(port)
        _, stats = c.get("/api/stats")
        c.close()
        mem = Table(f"serve: memory after {total} checks", ["figure", "value"])
        mem.add("PSS MB after start (workers not yet forked)", rss_start / 2**20)
        mem.add("PSS MB after the latency and concurrency runs", rss_warm / 2**20)
        mem.add(f"PSS MB after {total} more checks", rss_after / 2**20)
        mem.add("answer cache entries (bound 20000)", stats.get("answer_cache"))
        mem.add("checks/s in this run", many["answers_per_s"])
        mem.add("errors in this run", many["errors"])
        mem.notes.append("proportional set size of the server process and its sandboxed workers (psutil; "
                         "pages shared after fork counted once); half of "
                         "the checks are unique unreadable answers, so the cache grows by one entry each")
        tables.append(mem.as_dict())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return {"tables": tables, "seconds": time.perf_counter() - started}


if __name__ == "__main__":
    from . import text
    for t in run(quick="--quick" in sys.argv)["tables"]:
        print(text(t))
