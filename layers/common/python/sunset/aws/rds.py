"""RDS: DB instances, Aurora clusters, their snapshots, stopping them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from sunset.aws.errors import error_code
from sunset.tags import as_tag_list

# RDS starts a stopped DB instance or Aurora cluster again by itself once it has been stopped
# this long, to keep it up to date with maintenance (RDS and Aurora user guides, "Stopping ...
# temporarily"). A longer shutdown must stop it again, or delete it.
MAX_STOPPED = timedelta(days=7)


def restarts_before_return(downtime: timedelta | None) -> bool:
    """Whether AWS starts a database stopped for `downtime` (None: for good) again before the
    downtime is over."""
    return downtime is None or downtime > MAX_STOPPED


def db_instances(rds: Any) -> Iterator[dict[str, Any]]:
    """Every DB instance, tags included (DescribeDBInstances returns TagList)."""
    for page in rds.get_paginator("describe_db_instances").paginate():
        yield from page["DBInstances"]


def db_clusters(rds: Any) -> Iterator[dict[str, Any]]:
    for page in rds.get_paginator("describe_db_clusters").paginate():
        yield from page["DBClusters"]


def create_instance_snapshot(
    rds: Any, instance: str, snapshot_id: str, tags: Mapping[str, str]
) -> dict[str, Any]:
    return dict(
        rds.create_db_snapshot(
            DBInstanceIdentifier=instance, DBSnapshotIdentifier=snapshot_id, Tags=as_tag_list(tags)
        )
    )


def create_cluster_snapshot(
    rds: Any, cluster: str, snapshot_id: str, tags: Mapping[str, str]
) -> dict[str, Any]:
    return dict(
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier=cluster,
            DBClusterSnapshotIdentifier=snapshot_id,
            Tags=as_tag_list(tags),
        )
    )


def stop_instance(rds: Any, instance: str) -> dict[str, Any]:
    return dict(rds.stop_db_instance(DBInstanceIdentifier=instance))


def stop_cluster(rds: Any, cluster: str) -> dict[str, Any]:
    return dict(rds.stop_db_cluster(DBClusterIdentifier=cluster))


def describe_instance(rds: Any, instance: str) -> dict[str, Any] | None:
    """The instance as it is now (status, tags), or None when it no longer exists."""
    try:
        return dict(rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0])
    except ClientError as exc:
        if error_code(exc) == "DBInstanceNotFound":
            return None
        raise


def describe_cluster(rds: Any, cluster: str) -> dict[str, Any] | None:
    try:
        return dict(rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0])
    except ClientError as exc:
        if error_code(exc) == "DBClusterNotFoundFault":
            return None
        raise


def database_status(rds: Any, kind: str, identifier: str) -> str | None:
    """The status of a DB instance ("rds-instance") or Aurora cluster ("rds-cluster"), or None
    when it no longer exists."""
    if kind == "rds-instance":
        found = describe_instance(rds, identifier)
        return str(found["DBInstanceStatus"]) if found else None
    cluster = describe_cluster(rds, identifier)
    return str(cluster["Status"]) if cluster else None


def instance_snapshot(rds: Any, snapshot_id: str) -> dict[str, Any]:
    return dict(rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"][0])


def cluster_snapshot(rds: Any, snapshot_id: str) -> dict[str, Any]:
    return dict(
        rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot_id)[
            "DBClusterSnapshots"
        ][0]
    )


def restore_instance(
    rds: Any,
    snapshot_id: str,
    instance: str,
    instance_class: str,
    tags: Mapping[str, str],
    placement: Mapping[str, Any],
) -> dict[str, Any]:
    """Restore a private, single-AZ copy into the source's network and parameter groups."""
    return dict(
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=instance,
            DBSnapshotIdentifier=snapshot_id,
            DBInstanceClass=instance_class,
            PubliclyAccessible=False,
            MultiAZ=False,
            Tags=as_tag_list(tags),
            **placement,
        )
    )


def restore_cluster(
    rds: Any,
    snapshot_id: str,
    cluster: str,
    engine: str,
    tags: Mapping[str, str],
    placement: Mapping[str, Any],
) -> dict[str, Any]:
    return dict(
        rds.restore_db_cluster_from_snapshot(
            DBClusterIdentifier=cluster,
            SnapshotIdentifier=snapshot_id,
            Engine=engine,
            Tags=as_tag_list(tags),
            **placement,
        )
    )


def create_cluster_instance(
    rds: Any, cluster: str, instance: str, engine: str, instance_class: str, tags: Mapping[str, str]
) -> dict[str, Any]:
    return dict(
        rds.create_db_instance(
            DBInstanceIdentifier=instance,
            DBClusterIdentifier=cluster,
            Engine=engine,
            DBInstanceClass=instance_class,
            PubliclyAccessible=False,
            Tags=as_tag_list(tags),
        )
    )


def delete_instance(rds: Any, instance: str) -> dict[str, Any]:
    """Delete a throw-away restore-test instance: no final snapshot, no retained backups."""
    return dict(
        rds.delete_db_instance(
            DBInstanceIdentifier=instance, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
        )
    )


def delete_cluster(rds: Any, cluster: str) -> dict[str, Any]:
    return dict(rds.delete_db_cluster(DBClusterIdentifier=cluster, SkipFinalSnapshot=True))


def start_instance(rds: Any, instance: str) -> dict[str, Any]:
    return dict(rds.start_db_instance(DBInstanceIdentifier=instance))


def start_cluster(rds: Any, cluster: str) -> dict[str, Any]:
    return dict(rds.start_db_cluster(DBClusterIdentifier=cluster))
