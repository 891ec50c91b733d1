"""A realistic sample AI service to decommission in the sandbox (the demo and the tests use it).

"chat-assistant": two SageMaker endpoints (an LLM and an embedder) with autoscaling, an HTTP API
with a JWT authorizer, two stages and a custom domain, a legacy REST API, a WebSocket API for
streaming (which Sunset reports but does not handle), EBS volumes for the model cache and
a feature store, a Postgres instance for conversation history, an Aurora cluster for vectors,
log groups with recent traffic, CloudWatch metrics, and one protected volume of training data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# moto's default account: the sandbox's own, where the sample lives unless seeded elsewhere.
ACCOUNT = "123456789012"


@dataclass
class SampleService:
    name: str
    endpoints: list[str]
    endpoint_configs: list[str]
    models: list[str]
    http_api_id: str
    http_route_keys: list[str]
    http_stages: list[str]
    domain_name: str
    websocket_api_id: str
    rest_api_id: str
    rest_stage: str
    volumes: list[str]
    protected_volume: str
    db_instance: str
    db_cluster: str
    log_groups: list[str]
    tags: dict[str, str] = field(default_factory=dict)

    def request(self, **overrides: Any) -> dict[str, Any]:
        """A complete decommission input for this service."""
        return {
            "service": self.name,
            "selector": {"tags": {"app": self.name}},
            "reason": "Replaced by chat-v2; the old assistant is retired",
            "contacts": ["ml-oncall@example.com", "#chat-assistant"],
            "expected_downtime": "P14D",
            "resumption_plan": "Run recommission with this run id",
            **overrides,
        }


def seed_sample_service(session: Any, name: str = "chat-assistant") -> SampleService:
    """Create the sample service in whatever AWS `session` points at (the sandbox's moto)."""
    region = session.region_name
    # The account `session` calls: the sandbox's own, or a target's (Sandbox.session_in).
    account = session.client("sts").get_caller_identity()["Account"]
    container = f"{account}.dkr.ecr.{region}.amazonaws.com"
    tags = {"app": name, "team": "ml-platform", "cost-center": "ai-1234"}
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
    sagemaker = session.client("sagemaker")
    autoscaling = session.client("application-autoscaling")
    role = f"arn:aws:iam::{account}:role/{name}-sagemaker"

    endpoints, configs, models = [], [], []
    for suffix, image, instance in (
        ("llm", "llm-serving:3.1", "ml.g4dn.xlarge"),
        ("embeddings", "embedder:2.0", "ml.c5.xlarge"),
    ):
        model, config, endpoint = (
            f"{name}-{suffix}-model",
            f"{name}-{suffix}-config",
            f"{name}-{suffix}",
        )
        sagemaker.create_model(
            ModelName=model,
            ExecutionRoleArn=role,
            PrimaryContainer={
                "Image": f"{container}/{image}",
                "ModelDataUrl": f"s3://{name}-models/{suffix}/model.tar.gz",
                "Environment": {"MAX_BATCH": "8"},
            },
            Tags=tag_list,
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InitialInstanceCount": 2,
                    "InstanceType": instance,
                    "InitialVariantWeight": 1.0,
                }
            ],
            Tags=tag_list,
        )
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config, Tags=tag_list)
        resource_id = f"endpoint/{endpoint}/variant/AllTraffic"
        autoscaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=resource_id,
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            MinCapacity=2,
            MaxCapacity=8,
        )
        autoscaling.put_scaling_policy(
            PolicyName=f"{endpoint}-invocations",
            ServiceNamespace="sagemaker",
            ResourceId=resource_id,
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 70.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                },
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
            },
        )
        endpoints.append(endpoint)
        configs.append(config)
        models.append(model)

    http = session.client("apigatewayv2")
    api = http.create_api(Name=f"{name}-http", ProtocolType="HTTP", Tags=tags)
    api_id = api["ApiId"]
    router = f"arn:aws:lambda:{region}:{account}:function:{name}-router"
    integration = http.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=router, PayloadFormatVersion="2.0"
    )["IntegrationId"]
    authorizer = http.create_authorizer(
        ApiId=api_id,
        AuthorizerType="JWT",
        Name=f"{name}-jwt",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Audience": [name], "Issuer": "https://auth.example.com/"},
    )["AuthorizerId"]
    route_keys = ["POST /v1/chat", "POST /v1/embed", "GET /health"]
    for route_key in route_keys:
        secured = route_key != "GET /health"
        http.create_route(
            ApiId=api_id,
            RouteKey=route_key,
            Target=f"integrations/{integration}",
            **({"AuthorizationType": "JWT", "AuthorizerId": authorizer} if secured else {}),
        )
    http.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    # A pinned stage for a partner, deployed by hand (no auto-deploy), and a custom domain.
    http.create_stage(ApiId=api_id, StageName="partner", AutoDeploy=False)
    http.create_deployment(ApiId=api_id, StageName="partner", Description="partner pin, v1")
    domain = f"api.{name}.example.com"
    http.create_domain_name(
        DomainName=domain,
        DomainNameConfigurations=[
            {
                "CertificateArn": f"arn:aws:acm:{region}:{account}:certificate/{name}",
                "EndpointType": "REGIONAL",
            }
        ],
    )
    http.create_api_mapping(DomainName=domain, ApiId=api_id, Stage="$default", ApiMappingKey="v1")
    # Streaming responses go over a WebSocket API, which Sunset reports but does not handle.
    websocket_id = http.create_api(
        Name=f"{name}-stream",
        ProtocolType="WEBSOCKET",
        RouteSelectionExpression="$request.body.action",
        Tags=tags,
    )["ApiId"]

    rest = session.client("apigateway")
    rest_id = rest.create_rest_api(name=f"{name}-partner-api", tags=tags)["id"]
    root = next(r for r in rest.get_resources(restApiId=rest_id)["items"] if r["path"] == "/")
    v1 = rest.create_resource(restApiId=rest_id, parentId=root["id"], pathPart="v1")["id"]
    for path, verb, uri in (
        ("predict", "POST", f"endpoints/{endpoints[0]}/invocations"),
        ("embed", "POST", f"endpoints/{endpoints[1]}/invocations"),
    ):
        resource = rest.create_resource(restApiId=rest_id, parentId=v1, pathPart=path)["id"]
        rest.put_method(
            restApiId=rest_id, resourceId=resource, httpMethod=verb, authorizationType="AWS_IAM"
        )
        rest.put_integration(
            restApiId=rest_id,
            resourceId=resource,
            httpMethod=verb,
            type="AWS",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{region}:runtime.sagemaker:path//{uri}",
            credentials=f"arn:aws:iam::{account}:role/{name}-apigw",
        )
    rest.create_deployment(restApiId=rest_id, stageName="prod", description="partner API v1")

    ec2 = session.client("ec2")
    zone = f"{region}a"

    def volume(purpose: str, size: int, extra: dict[str, str] | None = None) -> str:
        volume_tags = {**tags, "purpose": purpose, **(extra or {})}
        return str(
            ec2.create_volume(
                AvailabilityZone=zone,
                Size=size,
                VolumeType="gp3",
                Encrypted=True,
                TagSpecifications=[
                    {
                        "ResourceType": "volume",
                        "Tags": [{"Key": k, "Value": v} for k, v in volume_tags.items()],
                    }
                ],
            )["VolumeId"]
        )

    volumes = [volume("model-cache", 200), volume("feature-store", 500)]
    protected = volume("training-data", 1000, {"sunset:protect": "true"})

    rds = session.client("rds")
    db_instance, db_cluster = f"{name}-history", f"{name}-vectors"
    rds.create_db_instance(
        DBInstanceIdentifier=db_instance,
        Engine="postgres",
        DBInstanceClass="db.m6g.large",
        AllocatedStorage=100,
        MasterUsername="assistant",
        MasterUserPassword="sandbox-only-1",
        StorageEncrypted=True,
        Tags=tag_list,
    )
    rds.create_db_cluster(
        DBClusterIdentifier=db_cluster,
        Engine="aurora-postgresql",
        MasterUsername="assistant",
        MasterUserPassword="sandbox-only-1",
        StorageEncrypted=True,
        Tags=tag_list,
    )
    rds.create_db_instance(
        DBInstanceIdentifier=f"{db_cluster}-1",
        Engine="aurora-postgresql",
        DBInstanceClass="db.r6g.large",
        DBClusterIdentifier=db_cluster,
    )

    logs = session.client("logs")
    now = datetime.now(UTC)
    log_groups = [f"/aws/sagemaker/Endpoints/{endpoint}" for endpoint in endpoints]
    log_groups += [f"/aws/apigateway/{name}-access", f"/aws/lambda/{name}-router"]
    for group in log_groups:
        # Endpoint log groups are created by SageMaker and carry no tags: discovery finds them
        # by their name. The others are tagged like the rest of the service.
        logs.create_log_group(
            logGroupName=group, **({} if group.startswith("/aws/sagemaker/") else {"tags": tags})
        )
        logs.create_log_stream(logGroupName=group, logStreamName="traffic")
        logs.put_log_events(
            logGroupName=group,
            logStreamName="traffic",
            logEvents=[
                {
                    "timestamp": int((now - timedelta(minutes=60 - i)).timestamp() * 1000),
                    "message": f"INFO request {i} served in {40 + i} ms",
                }
                for i in range(0, 60, 5)
            ],
        )

    cloudwatch = session.client("cloudwatch")
    # Six days of traffic, each point well inside the 7-day window Discover reads.
    for day in range(1, 7):
        stamp = now - timedelta(days=day) + timedelta(hours=1)
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Timestamp": stamp,
                    "Value": 1200.0 * (8 - day),
                    "Dimensions": [
                        {"Name": "EndpointName", "Value": endpoint},
                        {"Name": "VariantName", "Value": "AllTraffic"},
                    ],
                }
                for endpoint in endpoints
            ],
        )
        cloudwatch.put_metric_data(
            Namespace="AWS/ApiGateway",
            MetricData=[
                {
                    "MetricName": "Count",
                    "Timestamp": stamp,
                    "Value": 900.0 * (8 - day),
                    "Dimensions": [{"Name": "ApiId", "Value": api_id}],
                },
                {
                    "MetricName": "Count",
                    "Timestamp": stamp,
                    "Value": 150.0,
                    "Dimensions": [{"Name": "ApiName", "Value": f"{name}-partner-api"}],
                },
            ],
        )

    return SampleService(
        name=name,
        endpoints=endpoints,
        endpoint_configs=configs,
        models=models,
        http_api_id=api_id,
        http_route_keys=route_keys,
        http_stages=["$default", "partner"],
        domain_name=domain,
        websocket_api_id=websocket_id,
        rest_api_id=rest_id,
        rest_stage="prod",
        volumes=volumes,
        protected_volume=protected,
        db_instance=db_instance,
        db_cluster=db_cluster,
        log_groups=log_groups,
        tags=tags,
    )
