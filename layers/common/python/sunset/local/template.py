"""Deploy template.yaml into moto: the same resources, state machine and handlers as `sam deploy`.

moto's CloudFormation cannot take a SAM template as it is (it ignores DefinitionSubstitutions and
knows no S3 bucket policy), so this module reads the template itself and creates each resource
with the ordinary API call, resolving Ref, Fn::GetAtt, Fn::Sub and Fn::Join on the way. A
resource type it does not know is an error, never silently skipped: when the template grows, the
sandbox must be taught the new type here, so it cannot drift from what is deployed. A resource
or output whose Condition is false is left out, as CloudFormation leaves it out.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(Exception):
    """The template cannot be deployed into the sandbox as written."""


def _refuse_unknown(logical_id: str, properties: dict[str, Any], known: set[str]) -> None:
    """A property the sandbox does not deploy is an error, never silently dropped."""
    unknown = set(properties) - known
    if unknown:
        raise TemplateError(
            f"{logical_id}: the sandbox does not deploy {', '.join(sorted(unknown))} yet: "
            "teach sunset/local/template.py"
        )


class _CfnLoader(yaml.SafeLoader):
    """Turns CloudFormation short tags (!Ref, !GetAtt, ...) into their long form."""


def _construct(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], Any]:
    # Ref and Condition (inside Fn::And/Or/Not/If) have no Fn:: prefix in the long form.
    long_name = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def build(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {long_name: value}

    return build


for _tag in (
    "Ref",
    "GetAtt",
    "Sub",
    "Join",
    "Select",
    "Split",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "Base64",
    "GetAZs",
    "ImportValue",
    "Condition",
):
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: Path) -> dict[str, Any]:
    """The template as data; a copy of it, so that callers may change what they get."""
    stat = path.stat()
    return copy.deepcopy(_parsed_template(path.resolve(), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _parsed_template(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    # Parsing template.yaml takes ~0.5 s of pure Python, and every sandbox reads it: parse each
    # version of the file once per process (the key changes when the file does).
    with path.open(encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(template, dict) or "Resources" not in template:
        raise TemplateError(f"{path} is not a CloudFormation/SAM template")
    return template


@dataclass(frozen=True)
class FunctionSource:
    """Where a deployed function's code lives on this machine, and how Lambda would call it."""

    logical_id: str
    function_name: str
    code_dir: Path
    handler: str
    environment: dict[str, str]


@dataclass
class DeployedStack:
    name: str
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    functions: dict[str, FunctionSource] = field(default_factory=dict)


def _merge_globals(properties: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in properties.items():
        if key == "Environment" and "Environment" in defaults:
            variables = {
                **defaults["Environment"].get("Variables", {}),
                **value.get("Variables", {}),
            }
            merged[key] = {"Variables": variables}
        else:
            merged[key] = value
    return merged


def _event_rules(function_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge rules SAM makes of a function's EventBridgeRule events, as it names
    them (<function><event>), so that the template can refer to them as on AWS."""
    rules: dict[str, Any] = {}
    for event_id, event in properties.get("Events", {}).items():
        if event.get("Type") != "EventBridgeRule":
            raise TemplateError(
                f"{function_id}.Events.{event_id}: the sandbox deploys EventBridgeRule events "
                f"only, not {event.get('Type')}"
            )
        props = event.get("Properties", {})
        target = {"Arn": {"Fn::GetAtt": [function_id, "Arn"]}, "Id": f"{function_id}{event_id}"}
        for key in ("RetryPolicy", "DeadLetterConfig"):
            if key in props:
                target[key] = props[key]
        rules[f"{function_id}{event_id}"] = {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventPattern": props["Pattern"],
                "State": "ENABLED",
                "Targets": [target],
            },
        }
    return rules


def _references(value: Any) -> set[str]:
    """The logical ids a piece of template refers to."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            found |= {name.split(".")[0] for name in _SUB_VARIABLE.findall(text)}
        for item in value.values():
            found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _zip_placeholder() -> bytes:
    # moto wants a deployment package; the sandbox runs the code from the repository instead.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "Sandbox placeholder: handlers run in-process from functions/.")
    return buffer.getvalue()


class StackDeployer:
    """Creates every resource of the template in moto, in dependency order."""

    def __init__(
        self,
        template: dict[str, Any],
        root: Path,
        session: Any,
        stack_name: str,
        region: str,
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.template = template
        self.root = root
        self.session = session
        self.stack_name = stack_name
        self.region = region
        self.parameters = self._parameters(parameters or {})
        self.physical: dict[str, str] = {}
        self.attributes: dict[str, dict[str, str]] = {}
        self.functions: dict[str, FunctionSource] = {}
        self._role_arn: str | None = None

    # -------------------------------------------------------------- intrinsic functions
    def _parameters(self, overrides: dict[str, str]) -> dict[str, str]:
        declared = self.template.get("Parameters", {})
        unknown = set(overrides) - set(declared)
        if unknown:
            raise TemplateError(f"unknown template parameters: {', '.join(sorted(unknown))}")
        values = {}
        for name, spec in declared.items():
            value = overrides.get(name, spec.get("Default"))
            if value is None:
                raise TemplateError(f"template parameter {name} has no default and no value")
            allowed = spec.get("AllowedValues")
            if allowed and value not in allowed:
                raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
            values[name] = str(value)
        return values

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def _ref(self, name: str) -> str:
        for source in (self._pseudo(name), self.parameters.get(name), self.physical.get(name)):
            if source is not None:
                return source
        raise TemplateError(f"Ref {name}: no such parameter or resource (or not created yet)")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.attributes[logical_id][attribute]
        except KeyError:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute} is not available") from None

    def _sub(self, text: str, variables: dict[str, str]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return variables[name]
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute)
            return self._ref(name)

        return _SUB_VARIABLE.sub(replace, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                return self._get_att(argument[0], argument[1])
            if key == "Fn::Sub":
                if isinstance(argument, str):
                    return self._sub(argument, {})
                text, variables = argument
                return self._sub(text, {k: str(self.resolve(v)) for k, v in variables.items()})
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the sandbox deployer")
        return {key: self.resolve(item) for key, item in value.items()}

    def holds(self, condition: str | None) -> bool:
        """Whether a resource or output with this `Condition` is deployed (None: always)."""
        if condition is None:
            return True
        declared = self.template.get("Conditions", {})
        if condition not in declared:
            raise TemplateError(f"Condition {condition} is not declared in Conditions")
        return self._evaluate(declared[condition])

    def _evaluate(self, expression: Any) -> bool:
        if not isinstance(expression, dict) or len(expression) != 1:
            raise TemplateError(f"a condition must be one condition function, not {expression!r}")
        ((key, argument),) = expression.items()
        if key == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._evaluate(argument[0])
        if key == "Fn::And":
            return all(self._evaluate(item) for item in argument)
        if key == "Fn::Or":
            return any(self._evaluate(item) for item in argument)
        if key == "Condition":
            return self.holds(argument)
        raise TemplateError(f"{key} is not supported in Conditions by the sandbox deployer")

    # -------------------------------------------------------------- deployment
    def _name(self, logical_id: str, limit: int = 64) -> str:
        return f"{self.stack_name}-{logical_id}"[:limit]

    def _order(self, resources: dict[str, Any]) -> list[str]:
        ordered: list[str] = []
        visiting: set[str] = set()

        def visit(logical_id: str) -> None:
            if logical_id in ordered:
                return
            if logical_id in visiting:
                raise TemplateError(f"circular reference through {logical_id}")
            visiting.add(logical_id)
            for dependency in sorted(_references(resources[logical_id]) & set(resources)):
                visit(dependency)
            visiting.discard(logical_id)
            ordered.append(logical_id)

        for logical_id in resources:
            visit(logical_id)
        return ordered

    def deploy(self) -> DeployedStack:
        resources = {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if self.holds(resource.get("Condition"))
        }
        function_globals = self.template.get("Globals", {}).get("Function", {})
        for logical_id, resource in list(resources.items()):
            if resource["Type"] == "AWS::Serverless::Function":
                resources[logical_id] = {
                    **resource,
                    "Properties": _merge_globals(resource.get("Properties", {}), function_globals),
                }
                resources.update(_event_rules(logical_id, resource.get("Properties", {})))
        creators: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::KMS::Key": self._kms_key,
            "AWS::SNS::Topic": self._sns_topic,
            "AWS::SNS::Subscription": self._sns_subscription,
            "AWS::S3::Bucket": self._s3_bucket,
            "AWS::S3::BucketPolicy": self._s3_bucket_policy,
            "AWS::DynamoDB::Table": self._dynamodb_table,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::Serverless::LayerVersion": self._layer,
            "AWS::Serverless::Function": self._function,
            "AWS::Serverless::StateMachine": self._state_machine,
            "AWS::SQS::Queue": self._sqs_queue,
            "AWS::SQS::QueuePolicy": self._sqs_queue_policy,
            "AWS::IAM::Role": self._iam_role,
            "AWS::IAM::ManagedPolicy": self._iam_managed_policy,
            "AWS::IAM::Policy": self._iam_policy,
            "AWS::Scheduler::Schedule": self._schedule,
            "AWS::Events::Rule": self._events_rule,
        }
        for logical_id in self._order(resources):
            resource_type = resources[logical_id]["Type"]
            creator = creators.get(resource_type)
            if creator is None:
                raise TemplateError(
                    f"{logical_id} has type {resource_type}, which the sandbox cannot deploy yet: "
                    "teach sunset/local/template.py to create it"
                )
            creator(logical_id, resources[logical_id].get("Properties", {}))
        outputs = {
            name: str(self.resolve(spec["Value"]))
            for name, spec in self.template.get("Outputs", {}).items()
            if self.holds(spec.get("Condition"))
        }
        return DeployedStack(self.stack_name, outputs, dict(self.physical), dict(self.functions))

    def _client(self, name: str) -> Any:
        return self.session.client(name, region_name=self.region)

    def _kms_key(self, logical_id: str, properties: dict[str, Any]) -> None:
        kms = self._client("kms")
        key = kms.create_key(
            Description=properties.get("Description", logical_id),
            Policy=json.dumps(self.resolve(properties.get("KeyPolicy", {}))),
        )["KeyMetadata"]
        if properties.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=key["KeyId"])
        self.physical[logical_id] = key["KeyId"]
        self.attributes[logical_id] = {"Arn": key["Arn"], "KeyId": key["KeyId"]}

    def _sns_topic(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        attributes = {
            name: str(props[prop])
            for prop, name in (("KmsMasterKeyId", "KmsMasterKeyId"), ("DisplayName", "DisplayName"))
            if prop in props
        }
        name = props.get("TopicName", self._name(logical_id, 256))
        arn = self._client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        self.physical[logical_id] = arn
        self.attributes[logical_id] = {"TopicArn": arn, "TopicName": name}

    def _sns_subscription(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        known = {
            "TopicArn",
            "Protocol",
            "Endpoint",
            "FilterPolicy",
            "FilterPolicyScope",
            "RawMessageDelivery",
            "RedrivePolicy",
        }
        _refuse_unknown(logical_id, props, known)
        attributes = {}
        if "FilterPolicy" in props:
            # CloudFormation takes the policy as an object, the API as a JSON string.
            attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
            attributes["FilterPolicyScope"] = props.get("FilterPolicyScope", "MessageAttributes")
        if "RawMessageDelivery" in props:
            attributes["RawMessageDelivery"] = str(props["RawMessageDelivery"]).lower()
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        # moto confirms email subscriptions at once and delivers nothing to them; AWS sends
        # the address a confirmation link first.
        arn = self._client("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.physical[logical_id] = arn

    def _s3_bucket(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        s3 = self._client("s3")
        name = props.get("BucketName", self._name(logical_id, 50).lower() + "-sandbox")
        s3.create_bucket(Bucket=name)
        if "BucketEncryption" in props:
            # CloudFormation says ServerSideEncryptionByDefault where the API says Apply...
            rules = [
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(
                Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules}
            )
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration=props["VersioningConfiguration"]
            )
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "OwnershipControls" in props:
            s3.put_bucket_ownership_controls(
                Bucket=name, OwnershipControls=props["OwnershipControls"]
            )
        self.physical[logical_id] = name
        self.attributes[logical_id] = {"Arn": f"arn:aws:s3:::{name}", "BucketName": name}

    def _s3_bucket_policy(self, logical_id: str, properties: dict[str, Any]) -> None:
        # moto evaluates a bucket policy's Deny statements without their Condition, so the
        # deny-non-TLS statement would deny every request (moto 5.2, checked). The sandbox
        # applies the unconditional statements only; the conditional ones are checked by
        # cfn-lint and exercised on real AWS.
        props = self.resolve(properties)
        document = dict(props["PolicyDocument"])
        document["Statement"] = [s for s in document["Statement"] if "Condition" not in s]
        if document["Statement"]:
            self._client("s3").put_bucket_policy(
                Bucket=props["Bucket"], Policy=json.dumps(document)
            )
        self.physical[logical_id] = props["Bucket"]

    def _dynamodb_table(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        dynamodb = self._client("dynamodb")
        name = props.get("TableName", self._name(logical_id, 255))
        table = dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props.get("BillingMode", "PROVISIONED"),
            **({"SSESpecification": {"Enabled": True}} if props.get("SSESpecification") else {}),
        )["TableDescription"]
        recovery = props.get("PointInTimeRecoverySpecification", {})
        if recovery.get("PointInTimeRecoveryEnabled"):
            dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        self.physical[logical_id] = name
        self.attributes[logical_id] = {"Arn": table["TableArn"]}

    def _log_group(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        logs = self._client("logs")
        name = props.get("LogGroupName", f"/aws/vendedlogs/{self._name(logical_id, 200)}")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in props:
            logs.put_retention_policy(
                logGroupName=name, retentionInDays=int(props["RetentionInDays"])
            )
        self.physical[logical_id] = name
        self.attributes[logical_id] = {
            "Arn": f"arn:aws:logs:{self.region}:{ACCOUNT_ID}:log-group:{name}:*"
        }

    def _layer(self, logical_id: str, properties: dict[str, Any]) -> None:
        # The layer's code (the sunset package) is imported from this checkout; the layer is
        # still published so that functions reference a real layer version, as in AWS.
        props = self.resolve(properties)
        arn = self._client("lambda").publish_layer_version(
            LayerName=props.get("LayerName", self._name(logical_id)),
            Description=props.get("Description", ""),
            Content={"ZipFile": _zip_placeholder()},
            CompatibleRuntimes=props.get("CompatibleRuntimes", []),
        )["LayerVersionArn"]
        self.physical[logical_id] = arn

    def _sqs_queue(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        _refuse_unknown(logical_id, props, {"MessageRetentionPeriod", "SqsManagedSseEnabled"})
        name = self._name(logical_id, 80)
        sqs = self._client("sqs")
        url = sqs.create_queue(
            QueueName=name, Attributes={key: str(value).lower() for key, value in props.items()}
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.physical[logical_id] = url
        self.attributes[logical_id] = {"Arn": arn, "QueueName": name, "QueueUrl": url}

    def _sqs_queue_policy(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        _refuse_unknown(logical_id, props, {"Queues", "PolicyDocument"})
        policy = json.dumps(props["PolicyDocument"])
        for url in props["Queues"]:
            self._client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
        self.physical[logical_id] = logical_id

    def _events_rule(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        _refuse_unknown(logical_id, props, {"EventPattern", "State", "Targets"})
        events = self._client("events")
        name = self._name(logical_id, 64)
        arn = events.put_rule(
            Name=name, EventPattern=json.dumps(props["EventPattern"]), State=props["State"]
        )["RuleArn"]
        events.put_targets(Rule=name, Targets=props["Targets"])
        self.physical[logical_id] = name
        self.attributes[logical_id] = {"Arn": arn}

    def _iam_role(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        _refuse_unknown(logical_id, props, {"AssumeRolePolicyDocument", "Policies"})
        iam = self._client("iam")
        name = self._name(logical_id, 64)
        role = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"])
        )["Role"]
        for policy in props.get("Policies", []):
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        self.physical[logical_id] = name
        self.attributes[logical_id] = {"Arn": role["Arn"], "RoleId": role["RoleId"]}

    def _iam_policy(self, logical_id: str, properties: dict[str, Any]) -> None:
        """An inline policy for roles: a function's own role (SAM's `<Function>Role`) is the
        one stand-in role every function runs as here (_role)."""
        _refuse_unknown(logical_id, properties, {"PolicyName", "Roles", "PolicyDocument"})
        functions = {
            name
            for name, resource in self.template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"
        }
        roles = set()
        for role in properties["Roles"]:
            ref = role.get("Ref") if isinstance(role, dict) else None
            if isinstance(ref, str) and ref.endswith("Role") and ref[: -len("Role")] in functions:
                roles.add(self._role().rsplit("/", 1)[-1])
            else:
                roles.add(str(self.resolve(role)))
        document = json.dumps(self.resolve(properties["PolicyDocument"]))
        for role_name in sorted(roles):
            self._client("iam").put_role_policy(
                RoleName=role_name, PolicyName=properties["PolicyName"], PolicyDocument=document
            )
        self.physical[logical_id] = properties["PolicyName"]

    def _iam_managed_policy(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        _refuse_unknown(logical_id, props, {"Description", "PolicyDocument"})
        policy = self._client("iam").create_policy(
            PolicyName=self._name(logical_id, 128),
            Description=props.get("Description", ""),
            PolicyDocument=json.dumps(props["PolicyDocument"]),
        )["Policy"]
        # Ref of a managed policy is its ARN.
        self.physical[logical_id] = policy["Arn"]
        self.attributes[logical_id] = {"PolicyArn": policy["Arn"]}

    def _schedule(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        known = {
            "Description",
            "ScheduleExpression",
            "ScheduleExpressionTimezone",
            "FlexibleTimeWindow",
            "State",
            "Target",
        }
        _refuse_unknown(logical_id, props, known)
        name = self._name(logical_id, 64)
        arn = self._client("scheduler").create_schedule(Name=name, **props)["ScheduleArn"]
        self.physical[logical_id] = name
        self.attributes[logical_id] = {"Arn": arn}

    def _role(self) -> str:
        # IAM is not enforced by moto; one role stands in for each function's policies, which
        # `sam validate --lint` and the least-privilege check verify instead.
        if self._role_arn is None:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "sts:AssumeRole",
                        "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    }
                ],
            }
            self._role_arn = self._client("iam").create_role(
                RoleName=f"{self.stack_name}-sandbox-role",
                AssumeRolePolicyDocument=json.dumps(trust),
            )["Role"]["Arn"]
        return self._role_arn

    def _function(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve(properties)
        name = props.get("FunctionName", self._name(logical_id))
        environment = {
            k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()
        }
        code_dir = (self.root / props["CodeUri"]).resolve()
        module = props["Handler"].rsplit(".", 1)[0]
        if not (code_dir / f"{module.replace('.', '/')}.py").is_file():
            raise TemplateError(f"{logical_id}: handler {props['Handler']} not found in {code_dir}")
        arn = self._client("lambda").create_function(
            FunctionName=name,
            Runtime=props["Runtime"],
            Role=self._role(),
            Handler=props["Handler"],
            Code={"ZipFile": _zip_placeholder()},
            Description=props.get("Description", ""),
            Timeout=int(props.get("Timeout", 3)),
            MemorySize=int(props.get("MemorySize", 128)),
            Architectures=props.get("Architectures", ["x86_64"]),
            Environment={"Variables": environment},
            Layers=props.get("Layers", []),
        )["FunctionArn"]
        self.physical[logical_id] = name
        self.attributes[logical_id] = {"Arn": arn}
        self.functions[name] = FunctionSource(
            logical_id, name, code_dir, props["Handler"], environment
        )

    def _state_machine(self, logical_id: str, properties: dict[str, Any]) -> None:
        props = self.resolve({k: v for k, v in properties.items() if k != "Policies"})
        definition_path = self.root / props["DefinitionUri"]
        text = definition_path.read_text(encoding="utf-8")
        substitutions = {k: str(v) for k, v in props.get("DefinitionSubstitutions", {}).items()}
        missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(substitutions)
        if missing:
            raise TemplateError(
                f"{definition_path.name}: no substitution for {', '.join(sorted(missing))}"
            )
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", value)
        json.loads(text)  # a broken definition should fail here, not at the first execution
        name = props.get("Name", self._name(logical_id, 80))
        arn = self._client("stepfunctions").create_state_machine(
            name=name, definition=text, roleArn=self._role(), type=props.get("Type", "STANDARD")
        )["stateMachineArn"]
        self.physical[logical_id] = arn
        self.attributes[logical_id] = {"Arn": arn, "Name": name}
