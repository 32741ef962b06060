"""The runbooks in deploy/README.md against what the manifests and compose file define: the
Deploy steps apply every part with a database after its migration Job, wait for every Job
and every part's rollout; the restores stop every part that writes; backup.sh dumps every
database there is."""

from __future__ import annotations

import re
import shlex
import sys
from typing import Any

import pytest
from deploy_helpers import ROOT, compose_env, labels_match
from test_k8s import of_kind

Objs = list[dict[str, Any]]
README = ROOT / "deploy" / "README.md"


def section_text(section: str) -> str:
    """A README section, from its heading to the next heading of level 2 to 4."""
    text = README.read_text()
    start = text.index(f"\n{section}\n") + len(section) + 2
    end = re.search(r"\n#{2,4} ", text[start:])
    return text[start : start + end.start() if end else None]


def commands(section: str) -> list[list[str]]:
    """The shell commands in a README section's code blocks (continuations joined)."""
    body = section_text(section)
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", body, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines += [line for line in joined.splitlines() if line and not line.startswith("#")]
    return [shlex.split(line, comments=True) for line in lines]


def inline_commands(section: str) -> list[list[str]]:
    """The `kubectl ...` commands written inline in a README section's text."""
    body = re.sub(r"\s*\n\s*", " ", section_text(section))
    return [shlex.split(c) for c in re.findall(r"`(kubectl [^`]*)`", body)]


def selector(expression: str) -> dict[str, Any]:
    """A `kubectl -l` label selector as a LabelSelector (the forms the runbook uses)."""
    expressions: list[dict[str, Any]] = []
    match_labels: dict[str, str] = {}
    for term in re.findall(r"[^,(]+(?:\([^)]*\))?", expression):
        term = term.strip()
        if m := re.fullmatch(r"(\S+)\s+(in|notin)\s+\(([^)]*)\)", term):
            values = [v.strip() for v in m.group(3).split(",")]
            op = "In" if m.group(2) == "in" else "NotIn"
            expressions.append({"key": m.group(1), "operator": op, "values": values})
        elif m := re.fullmatch(r"([^=!\s]+)\s*==?\s*(\S+)", term):
            match_labels[m.group(1)] = m.group(2)
        else:
            raise AssertionError(f"selector term not understood: {term!r}")
    return {"matchLabels": match_labels, "matchExpressions": expressions}


def selected(objs: Objs, expression: str) -> Objs:
    sel = selector(expression)
    return [o for o in objs if labels_match(sel, o["metadata"].get("labels") or {})]


def migrated_parts(objs: Objs) -> set[str]:
    """The Deployments with a migration Job (`<name>-migrate`): the parts with a database."""
    jobs = {j["metadata"]["name"] for j in of_kind(objs, "Job")}
    return {d["metadata"]["name"] for d in of_kind(objs, "Deployment")} & {
        j.removesuffix("-migrate") for j in jobs
    }


@pytest.fixture(scope="module")
def prod(rendered: dict[str, Objs]) -> Objs:
    return rendered["production"]


def test_deploy_steps_cover_every_part(prod: Objs) -> None:
    steps = commands("### Deploy")
    applies = [c for c in steps if c[:2] == ["kubectl", "apply"]]
    first_label = applies[0][applies[0].index("-l") + 1]
    parts = migrated_parts(prod)
    assert parts >= {"identity", "registry", "procurement", "portal"}
    # Step 3 applies nothing that needs a migrated database, and no Job or CronJob.
    early = selected(prod, first_label)
    assert not [o["metadata"]["name"] for o in early if o["kind"] in ("Job", "CronJob")]
    too_early = {o["metadata"]["name"] for o in early if o["kind"] == "Deployment"} & parts
    assert not too_early, f"step 3 applies {too_early} before their migrations"
    # Step 4 applies every migration Job and waits for each.
    migrate_label = applies[1][applies[1].index("-l") + 1]
    jobs = {j["metadata"]["name"] for j in of_kind(prod, "Job")}
    assert {o["metadata"]["name"] for o in selected(prod, migrate_label)} == jobs
    waits = [c for c in steps if c[:4] == ["kubectl", "-n", "samen", "wait"]]
    waited = {a.removeprefix("job/") for c in waits for a in c if a.startswith("job/")}
    assert waited == jobs
    # Step 5 checks every Deployment that step 3 left out.
    rollout = [c for c in steps if c[3:5] == ["rollout", "status"]]
    checked = {a.removeprefix("deploy/") for c in rollout for a in c if a.startswith("deploy/")}
    later = {d["metadata"]["name"] for d in of_kind(prod, "Deployment")} - {
        o["metadata"]["name"] for o in early if o["kind"] == "Deployment"
    }
    assert later <= checked, f"step 5 does not wait for {later - checked}"
    assert parts | {"gateway"} <= later


def test_selector_check_can_fail(prod: Objs) -> None:
    early = selected(prod, "app.kubernetes.io/component notin (api,migrate,maintenance)")
    assert "portal" in {o["metadata"]["name"] for o in early if o["kind"] == "Deployment"}


def test_kubernetes_restore_stops_every_writer(prod: Objs) -> None:
    (scale,) = [c for c in inline_commands("### Backups and restore (Kubernetes)") if "scale" in c]
    stopped = {a.removeprefix("deploy/") for a in scale if a.startswith("deploy/")}
    assert migrated_parts(prod) | {"gateway"} <= stopped


def compose_parts_with_a_database(compose: dict[str, Any]) -> set[str]:
    """Long-running compose services (not the one-shots) with a database URL."""
    return {
        name
        for name, svc in compose["services"].items()
        if "serve" in (svc.get("command") or [])
        and any(k.endswith("_DATABASE_URL") for k in compose_env(svc))
    }


def test_compose_restore_stops_and_starts_every_writer(compose: dict[str, Any]) -> None:
    steps = commands("## Backups and restore (docker-compose)")
    (stop,) = [c for c in steps if c[:3] == ["docker", "compose", "stop"]]
    (start,) = [c for c in steps if c[:3] == ["docker", "compose", "start"]]
    parts = compose_parts_with_a_database(compose)
    assert parts >= {"identity", "registry", "procurement", "portal"}
    assert parts | {"gateway"} <= set(stop[3:])
    assert set(stop[3:]) == set(start[3:])


def backup_defaults() -> list[str]:
    script = (ROOT / "deploy" / "compose" / "backup.sh").read_text()
    (line,) = re.findall(r"^\[ \$# -gt 0 \] \|\| set -- (.*)$", script, re.M)
    return line.split()


def test_backup_script_dumps_every_database(
    compose: dict[str, Any], rendered: dict[str, Objs]
) -> None:
    init = (ROOT / "deploy" / "compose" / "postgres-init.sh").read_text()
    created = set(re.findall(r"^create (\w+) ", init, re.M))
    urls = {
        url.rsplit("/", 1)[1]
        for svc in compose["services"].values()
        for key, url in compose_env(svc).items()
        if key.endswith("_DATABASE_URL")
    }
    cnpg = {d["spec"]["name"] for d in of_kind(rendered["production"], "Database")}
    assert created == urls == cnpg == set(backup_defaults())


def test_readme_names_every_image() -> None:
    sys.path.insert(0, str(ROOT / "deploy"))
    try:
        import images
    finally:
        sys.path.remove(str(ROOT / "deploy"))
    parts = set(images.parts())
    first = re.match(r"(\w+) images \(([^)]*)\)", README.read_text().split("\n", 2)[2])
    assert first, "deploy/README.md opens with '<Number> images (<names>)'"
    numbers = {3: "Three", 4: "Four", 5: "Five", 6: "Six", 7: "Seven"}
    assert first.group(1) == numbers[len(parts)]
    assert {p.strip() for p in first.group(2).split(",")} == parts


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_alert_runbook_links_point_to_headings(prod: Objs) -> None:
    anchors = {github_anchor(h) for h in re.findall(r"^#+ (.*)$", README.read_text(), re.M)}
    (rule,) = of_kind(prod, "PrometheusRule")
    links = [
        r["annotations"]["runbook"]
        for g in rule["spec"]["groups"]
        for r in g["rules"]
        if "runbook" in r.get("annotations", {})
    ]
    assert links
    for link in links:
        path, _, anchor = link.partition("#")
        assert path == "deploy/README.md", link
        assert anchor in anchors, f"{link}: no such heading"


def test_previous_keys_come_from_secrets() -> None:
    """A key is never written as a plain value on a Deployment (it would sit in its spec,
    readable by everyone who may read Deployments, and in every ReplicaSet's history)."""
    text = " ".join(README.read_text().split())
    assert not re.search(r"set env deploy/\S+ [A-Z_]*KEYS?=", text)
    for setting in (
        "IDENTITY_PREVIOUS_KEY_ENCRYPTION_KEYS",
        "REGISTRY_PREVIOUS_WEBHOOK_SECRET_KEYS",
    ):
        assert re.search(rf"create secret generic \S+ --from-literal={setting}=", text), setting
        assert f"{setting}-`" in text, f"{setting}: removed again"


def test_readme_states_the_backup_time(prod: Objs) -> None:
    (scheduled,) = of_kind(prod, "ScheduledBackup")
    second, minute, hour = scheduled["spec"]["schedule"].split()[:3]
    text = " ".join(README.read_text().split())
    assert f"every night at {int(hour):02d}:{int(minute):02d} UTC" in text
    assert second == "0"
