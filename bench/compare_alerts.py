#!/usr/bin/env python3
"""Sanity check of bench/rules.sh (Python 3 standard library only).

Both servers hold the same data. For every alerting rule of RULES_JSON (a
saved /api/v1/rules answer), the rule's expression is run as an instant
query at one fixed time on both servers, and the number of series it
returns (the alerts the rule would have, pending or firing) is compared.
Evaluating at one instant removes the differences that come from the two
servers evaluating their groups at different moments of each interval.

Usage: compare_alerts.py AGENTMON_URL PROMETHEUS_URL RULES_JSON TIME
Prints a JSON report: rules compared, rules agreeing, total alerts on
each side, and the first rules that disagree.
"""

import json
import sys
import urllib.parse
import urllib.request


def count(base, expr, at):
    query = urllib.parse.urlencode({"query": expr, "time": at})
    with urllib.request.urlopen(base + "/api/v1/query?" + query, timeout=60) as response:
        data = json.load(response)["data"]
    return len(data["result"]) if data["resultType"] == "vector" else None


def main():
    agentmon, prometheus, rules_path, at = sys.argv[1:5]
    with open(rules_path) as f:
        groups = json.load(f)["data"]["groups"]
    rules = [(r["name"], r["query"]) for g in groups for r in g["rules"] if r["type"] == "alerting"]
    same = 0
    totals = {"agentmon": 0, "prometheus": 0}
    differing = []
    errors = []
    for name, expr in rules:
        try:
            a = count(agentmon, expr, at)
            p = count(prometheus, expr, at)
        except Exception as error:  # noqa: BLE001 - reported, never fatal
            errors.append("%s: %s" % (name, error))
            continue
        totals["agentmon"] += a or 0
        totals["prometheus"] += p or 0
        if a == p:
            same += 1
        else:
            differing.append({"rule": name, "expr": expr, "agentmon": a, "prometheus": p})
    report = {
        "time": float(at),
        "rules": len(rules),
        "agreeing": same,
        "alerts": totals,
        "errors": errors[:5],
        "differing": differing[:20],
        "differing_count": len(differing),
    }
    print(json.dumps(report, indent=2))
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
