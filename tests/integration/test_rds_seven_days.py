"""RDS starts a stopped database again after 7 days: a longer shutdown says so, with the date."""

from __future__ import annotations

from datetime import datetime, timedelta

from sunset.local import Sandbox
from sunset.local.sample import SampleService
from tests.conftest import FAST, Inbox, artifact, manifest_of


def test_a_shutdown_longer_than_7_days_warns_when_each_database_comes_back(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    # When the databases are stopped for a 14-day freeze
    request = service.request(backup=FAST, stop_databases=True, expected_downtime="P14D")
    run = sandbox.run("decommission", request, name="freeze")
    assert run.status == "SUCCEEDED", run.cause
    # Then STOPPED names each database and the moment AWS starts it again: 7 days after its stop
    stops = {
        a["resource"]: datetime.fromisoformat(a["at"])
        for a in manifest_of(sandbox, "freeze")["actions"]
        if a["action"] in ("rds:StopDBInstance", "rds:StopDBCluster") and a["result"] == "ok"
    }
    assert set(stops) == {service.db_instance, service.db_cluster}
    notice = inbox.wait_for("STOPPED")
    assert "These will be running again:" in notice.body
    restarts = {r["resource"]: r["at"] for r in notice.document["facts"]["restarted_by_aws"]}
    assert set(restarts) == {
        f"RDS instance {service.db_instance}",
        f"Aurora cluster {service.db_cluster}",
    }
    restart = datetime.fromisoformat(restarts[f"RDS instance {service.db_instance}"])
    assert abs(restart - (stops[service.db_instance] + timedelta(days=7))) < timedelta(seconds=5)
    assert f"- RDS instance {service.db_instance}: on {restart:%Y-%m-%d %H:%M UTC}" in notice.body
    # and the report shows it where the stops are listed
    report = artifact(sandbox, "freeze", "report.md")
    assert "AWS starts a database that has been stopped for 7 days again by itself" in report
    assert f"| `{service.db_instance}` |" in report


def test_a_shutdown_within_7_days_needs_no_warning(
    sandbox: Sandbox, service: SampleService, inbox: Inbox
) -> None:
    request = service.request(backup=FAST, stop_databases=True, expected_downtime="P6D")
    assert sandbox.run("decommission", request, name="short").status == "SUCCEEDED"
    notice = inbox.wait_for("STOPPED")
    assert notice.document["facts"]["restarted_by_aws"] == []
    assert "running again" not in notice.body
    assert "stopped for 7 days" not in artifact(sandbox, "short", "report.md")
