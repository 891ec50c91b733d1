"""A second AI service, shaped unlike the sample, so the round trip is not tuned to one shape.

"fraud-scorer": one endpoint running an A/B test (two variants, two models, no autoscaling);
an HTTP API with a Lambda REQUEST authorizer, two integrations (a Lambda and an HTTP backend),
a greedy proxy route and one auto-deploy stage with stage variables; a REST API with a method on
its root (a MOCK health check with method and integration responses), a path parameter and two
stages; a MySQL instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.integration.servicestate import ServiceShape

ACCOUNT = "123456789012"


@dataclass
class SecondService:
    name: str
    endpoint: str
    http_api_id: str
    rest_api_id: str
    db_instance: str

    @property
    def shape(self) -> ServiceShape:
        return ServiceShape(
            endpoints=[self.endpoint],
            http_apis=[self.http_api_id],
            rest_apis=[self.rest_api_id],
            db_instances=[self.db_instance],
        )

    def request(self, **overrides: Any) -> dict[str, Any]:
        return {
            "service": self.name,
            "selector": {"tags": {"service": self.name, "env": "prod"}},
            "reason": "Cost freeze for Q1",
            "contacts": ["risk-ml@example.com"],
            "expected_downtime": "P90D",
            "stop_databases": True,
            "backup": {"poll_seconds": 1, "deadline_seconds": 60},
            **overrides,
        }


def seed_second_service(session: Any, name: str = "fraud-scorer") -> SecondService:
    region = session.region_name
    tags = {"service": name, "env": "prod"}
    tag_list = [{"Key": k, "Value": v} for k, v in tags.items()]
    sagemaker = session.client("sagemaker")
    role = f"arn:aws:iam::{ACCOUNT}:role/{name}"
    for model in ("a", "b"):
        sagemaker.create_model(
            ModelName=f"{name}-model-{model}",
            ExecutionRoleArn=role,
            PrimaryContainer={
                "Image": f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/xgboost:1.7-{model}",
                "ModelDataUrl": f"s3://{name}/{model}/model.tar.gz",
            },
        )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-ab",
        ProductionVariants=[
            {
                "VariantName": "Champion",
                "ModelName": f"{name}-model-a",
                "InitialInstanceCount": 3,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 0.9,
            },
            {
                "VariantName": "Challenger",
                "ModelName": f"{name}-model-b",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 0.1,
            },
        ],
    )
    endpoint = f"{name}-live"
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{name}-ab", Tags=tag_list)

    http = session.client("apigatewayv2")
    api_id = http.create_api(Name=f"{name}-api", ProtocolType="HTTP", Tags=tags)["ApiId"]
    scorer = http.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}-score",
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    legacy = http.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationMethod="ANY",
        IntegrationUri="https://legacy.fraud.example.com/{proxy}",
        PayloadFormatVersion="1.0",
    )["IntegrationId"]
    authorizer = http.create_authorizer(
        ApiId=api_id,
        AuthorizerType="REQUEST",
        Name=f"{name}-keys",
        AuthorizerUri=(
            f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
            f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}-auth/invocations"
        ),
        IdentitySource=["$request.header.x-api-key"],
        AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True,
    )["AuthorizerId"]
    http.create_route(
        ApiId=api_id,
        RouteKey="POST /score",
        Target=f"integrations/{scorer}",
        AuthorizationType="CUSTOM",
        AuthorizerId=authorizer,
    )
    http.create_route(
        ApiId=api_id, RouteKey="ANY /legacy/{proxy+}", Target=f"integrations/{legacy}"
    )
    http.create_stage(
        ApiId=api_id,
        StageName="$default",
        AutoDeploy=True,
        StageVariables={"model": "ab", "threshold": "0.82"},
    )

    rest = session.client("apigateway")
    rest_id = rest.create_rest_api(name=f"{name}-batch", tags=tags)["id"]
    root = rest.get_resources(restApiId=rest_id)["items"][0]["id"]
    rest.put_method(restApiId=rest_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    rest.put_method_response(restApiId=rest_id, resourceId=root, httpMethod="GET", statusCode="200")
    rest.put_integration(
        restApiId=rest_id,
        resourceId=root,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    rest.put_integration_response(
        restApiId=rest_id,
        resourceId=root,
        httpMethod="GET",
        statusCode="200",
        responseTemplates={"application/json": '{"ok": true}'},
    )
    batches = rest.create_resource(restApiId=rest_id, parentId=root, pathPart="batches")["id"]
    batch = rest.create_resource(restApiId=rest_id, parentId=batches, pathPart="{batch_id}")["id"]
    rest.put_method(
        restApiId=rest_id,
        resourceId=batch,
        httpMethod="GET",
        authorizationType="AWS_IAM",
        apiKeyRequired=True,
        requestParameters={"method.request.path.batch_id": True},
    )
    rest.put_integration(
        restApiId=rest_id,
        resourceId=batch,
        httpMethod="GET",
        type="HTTP",
        integrationHttpMethod="GET",
        uri="https://batch.fraud.example.com/batches/{batch_id}",
    )
    rest.create_deployment(restApiId=rest_id, stageName="live", variables={"tier": "gold"})
    rest.create_deployment(restApiId=rest_id, stageName="canary")

    db = f"{name}-features"
    session.client("rds").create_db_instance(
        DBInstanceIdentifier=db,
        Engine="mysql",
        DBInstanceClass="db.t4g.medium",
        AllocatedStorage=50,
        MasterUsername="scorer",
        MasterUserPassword="sandbox-only-2",
        StorageEncrypted=True,
        Tags=tag_list,
    )
    return SecondService(
        name=name, endpoint=endpoint, http_api_id=api_id, rest_api_id=rest_id, db_instance=db
    )
