"""Every PromQL expression in the monitoring folder parses (promql-parser, the Prometheus
grammar): the PrometheusRule's alert expressions and the Grafana dashboard's queries.

Usage: python deploy/check_promql.py deploy/k8s/overlays/production/monitoring
(run by deploy/check.sh in a throwaway environment with promql-parser and PyYAML)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import promql_parser
import yaml


def expressions(folder: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "PrometheusRule":
                for group in doc["spec"]["groups"]:
                    for rule in group["rules"]:
                        yield (
                            f"{path.name}: {rule.get('alert') or rule.get('record')}",
                            rule["expr"],
                        )
    for path in sorted(folder.glob("*.json")):
        for panel in json.loads(path.read_text()).get("panels", []):
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]


def main(folder: str) -> int:
    failures = checked = 0
    for where, expr in expressions(Path(folder)):
        checked += 1
        try:
            promql_parser.parse(expr)
        except Exception as exc:  # the parser's error names the position
            failures += 1
            print(f"FAIL {where}: {exc}")
    print(f"PromQL: {checked} expressions, {failures} failures")
    return 1 if failures or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
