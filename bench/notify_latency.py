#!/usr/bin/env python3
"""Notification latency probe for bench/notify.sh (Python 3 standard library only).

Serves a webhook receiver on 127.0.0.1:--hook-port, then posts --groups
alerts, one per group (labels alertname=NotifyBench, bench_group=gNNNN,
bench_run=RUN), to --url's POST /api/v2/alerts, paced at --rate groups per
second. The server under test must route them to the webhook with
group_by [alertname, bench_group] and group_wait --group-wait.

For every group, latency = arrival of its first webhook request
- (time its alert was posted + group_wait). The post time is taken just
before the request is sent, so the alert's ingestion is inside the figure.
Waits at most --timeout seconds after the last post, then prints a JSON
report (counts, percentiles in ms, POST round trips) to stdout; exits 1
when no alert could be posted at all.
"""

import argparse
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Arrivals:
    """Webhook arrivals by group, guarded by one lock."""

    def __init__(self, run):
        self.run = run
        self.lock = threading.Lock()
        self.first = {}
        self.requests = 0
        self.duplicates = 0
        self.foreign = 0
        self.all_seen = threading.Event()
        self.expected = None

    def record(self, at, payload):
        labels = payload.get("groupLabels") or payload.get("commonLabels") or {}
        group = labels.get("bench_group")
        with self.lock:
            self.requests += 1
            if group is None or payload.get("commonLabels", {}).get("bench_run") != self.run:
                self.foreign += 1
                return
            if group in self.first:
                self.duplicates += 1
                return
            self.first[group] = at
            if self.expected is not None and len(self.first) >= self.expected:
                self.all_seen.set()


def handler_for(arrivals):
    class Hook(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            at = time.monotonic()
            try:
                payload = json.loads(body)
            except ValueError:
                payload = {}
            arrivals.record(at, payload)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Hook


def percentile(sorted_values, q):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-q * len(sorted_values) // 100)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="server base URL")
    parser.add_argument("--hook-port", type=int, required=True)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="groups posted per second")
    parser.add_argument("--group-wait", type=float, default=1.0, help="seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds after the last post")
    parser.add_argument("--run", default=str(int(time.time())))
    args = parser.parse_args()

    arrivals = Arrivals(args.run)
    arrivals.expected = args.groups
    server = ThreadingHTTPServer(("127.0.0.1", args.hook_port), handler_for(arrivals))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    posted = {}
    round_trips = []
    failures = []
    wall_start = time.monotonic()
    for i in range(args.groups):
        due = wall_start + i / args.rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        group = "g%04d" % i
        now = time.time()
        alert = {
            "labels": {
                "alertname": "NotifyBench",
                "bench_group": group,
                "bench_run": args.run,
                "severity": "warning",
            },
            "annotations": {"summary": "notification latency probe %s" % group},
            "startsAt": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            + ".%03dZ" % (int(now * 1000) % 1000),
            "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 600)),
            "generatorURL": "http://127.0.0.1/bench",
        }
        request = urllib.request.Request(
            args.url + "/api/v2/alerts",
            data=json.dumps([alert]).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        sent = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
            posted[group] = sent
            round_trips.append((time.monotonic() - sent) * 1000)
        except Exception as error:  # noqa: BLE001 - reported, never fatal
            failures.append("%s: %s" % (group, error))
    post_seconds = time.monotonic() - wall_start

    arrivals.all_seen.wait(args.group_wait + args.timeout)
    time.sleep(0.5)  # late duplicates, if any
    server.shutdown()

    with arrivals.lock:
        latencies = sorted(
            (arrivals.first[g] - (posted[g] + args.group_wait)) * 1000
            for g in posted
            if g in arrivals.first
        )
        report = {
            "groups": args.groups,
            "posted": len(posted),
            "post_failures": failures[:5],
            "post_seconds": round(post_seconds, 3),
            "notified": len(latencies),
            "missing": len(posted) - len(latencies),
            "duplicates": arrivals.duplicates,
            "foreign_requests": arrivals.foreign,
            "webhook_requests": arrivals.requests,
            "group_wait_seconds": args.group_wait,
            "latency_ms": {
                name: (round(v, 2) if v is not None else None)
                for name, v in (
                    ("min", latencies[0] if latencies else None),
                    ("p50", percentile(latencies, 50)),
                    ("p90", percentile(latencies, 90)),
                    ("p99", percentile(latencies, 99)),
                    ("max", latencies[-1] if latencies else None),
                    ("mean", sum(latencies) / len(latencies) if latencies else None),
                )
            },
            "post_round_trip_ms": {
                "p50": round(percentile(sorted(round_trips), 50) or 0, 2),
                "p99": round(percentile(sorted(round_trips), 99) or 0, 2),
            },
        }
    print(json.dumps(report, indent=2))
    return 0 if posted else 1


if __name__ == "__main__":
    raise SystemExit(main())
