#!/usr/bin/env python3
"""Checks a running Prometheus that scrapes a test stack (deploy/local/prometheus-test.sh): every
target answers its scrape, every alerting rule of alerts.yml is loaded and evaluates, every query
of the Grafana dashboard returns at least one number, and no label value carries one of the
strings given as private (a user's e-mail, id, token, app name).

Usage: prometheus-check.py PROMETHEUS_URL DASHBOARD_JSON ALERTS_YML TARGETS [PRIVATE...]

Polls until all of it holds or a deadline passes (the first samples take a few scrapes), then
says what is still wrong and exits 1.
"""

import json
import math
import re
import sys
import time
import urllib.parse
import urllib.request

DEADLINE_SECONDS = 60
POLL_SECONDS = 0.5

# Grafana's own variables, as Grafana would fill them for a short time range.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s"}


def api(base, path, **params):
    url = f"{base}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=5) as answer:
        body = json.load(answer)
    if body.get("status") != "success":
        raise RuntimeError(f"{path}: {body}")
    return body["data"]


def dashboard_queries(path):
    """(panel title, PromQL) for every target of every panel, Grafana variables filled in."""
    with open(path, encoding="utf-8") as file:
        dashboard = json.load(file)
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            if "$" in expr:
                raise SystemExit(f"unknown Grafana variable in {panel['title']!r}: {expr}")
            queries.append((f"{panel['title']} / {target['refId']}", expr))
    return queries


def alert_names(path):
    """The alert names in the rule file (no YAML parser needed for `- alert: Name` lines)."""
    with open(path, encoding="utf-8") as file:
        return set(re.findall(r"^\s*- alert:\s*(\S+)", file.read(), re.MULTILINE))


def target_problems(base, expected):
    targets = api(base, "targets", state="active")["activeTargets"]
    problems = [
        f"target {t['labels'].get('job')} {t['scrapeUrl']}: {t['health']} {t['lastError']}"
        for t in targets
        if t["health"] != "up"
    ]
    if len(targets) != expected:
        problems.append(f"{len(targets)} targets, expected {expected}")
    return problems


def rule_problems(base, wanted):
    loaded = {}
    for group in api(base, "rules", type="alert")["groups"]:
        for rule in group["rules"]:
            loaded[rule["name"]] = rule
    problems = [f"alert {name} not loaded" for name in sorted(wanted - loaded.keys())]
    for name, rule in sorted(loaded.items()):
        if rule["health"] != "ok":
            problems.append(f"alert {name}: health {rule['health']} {rule.get('lastError', '')}")
    return problems


def has_a_number(result):
    """Whether a query result has a finite sample (NaN is what Grafana shows as no data)."""
    values = [sample["value"][1] for sample in result]
    return any(not math.isnan(float(value)) for value in values)


def query_problems(base, queries):
    problems = []
    for title, expr in queries:
        data = api(base, "query", query=expr)
        if not has_a_number(data["result"]):
            problems.append(f"no data for {title}: {expr} -> {data['result']}")
    return problems


def privacy_problems(base, private):
    series = api(base, "series", **{"match[]": '{job=~"wellbeing.*"}'})
    text = json.dumps(series)
    return [f"a label carries the private value {value!r}" for value in private if value in text]


def main():
    base, dashboard, alerts, targets = sys.argv[1:5]
    private = [value for value in sys.argv[5:] if value]
    queries = dashboard_queries(dashboard)
    wanted = alert_names(alerts)
    if not queries or not wanted:
        raise SystemExit("no dashboard queries or no alerting rules found")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        problems = target_problems(base, int(targets))
        if not problems:
            problems = rule_problems(base, wanted) + query_problems(base, queries)
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(POLL_SECONDS)
    problems += privacy_problems(base, private)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print(f"{targets} targets up, {len(wanted)} alerting rules loaded, "
          f"{len(queries)} dashboard queries with data")


if __name__ == "__main__":
    main()
