"""Creates the state table and the files bucket on the local stand-ins from template.yaml.

The definitions are read from the template itself (key schema, attribute definitions, billing
mode, stream, TTL; bucket public-access block, encryption and lifecycle rules), so the local
resources cannot drift from what `sam deploy` creates. Waits for the stand-ins to answer first.

Environment: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3, TABLE_NAME, BUCKET_NAME.
"""

import os
import sys
import time

import boto3
import botocore.exceptions
import yaml


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !If, !GetAtt, ...) as their long forms."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)

NO_VALUE = object()


class Resolver:
    """Resolves the intrinsics the table and bucket use, with parameters at their defaults."""

    def __init__(self, template):
        self.parameters = {
            name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
        }
        self.conditions = template.get("Conditions", {})

    def condition(self, expr):
        if isinstance(expr, str):
            return self.condition(self.conditions[expr])
        (fn, args), = expr.items()
        if fn == "Fn::Not":
            return not self.condition(args[0])
        if fn == "Fn::Equals":
            return self.value(args[0]) == self.value(args[1])
        if fn == "Condition":
            return self.condition(args)
        raise ValueError(f"unsupported condition {fn}")

    def value(self, node):
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, args), = node.items()
            if fn == "Ref":
                if args == "AWS::NoValue":
                    return NO_VALUE
                if args in self.parameters:
                    return str(self.parameters[args])
            if fn == "Fn::If":
                name, when_true, when_false = args
                return self.value(when_true if self.condition(name) else when_false)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}


def the_resource(template, kind):
    found = [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]
    if len(found) != 1:
        raise SystemExit(f"create_resources: expected one {kind} in the template, found {len(found)}")
    return found[0]


def wait_until_ready(check, what, seconds=90):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                ConnectionError):
            if time.monotonic() > deadline:
                raise SystemExit(f"create_resources: {what} did not start within {seconds} s")
            time.sleep(0.25)


def create_table(dynamodb, name, props):
    spec = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if props.get("GlobalSecondaryIndexes"):
        spec["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    stream = props.get("StreamSpecification")
    if stream:
        spec["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    try:
        dynamodb.create_table(**spec)
    except dynamodb.exceptions.ResourceInUseException:
        return
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )


def lifecycle_rule(rule):
    out = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        }
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    return out


def create_bucket(s3, name, props):
    try:
        s3.create_bucket(Bucket=name)
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    encryption = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration")
    if encryption:
        # CloudFormation's property names differ from the API's in one place.
        api_rules = [
            {("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
             for k, v in rule.items()}
            for rule in encryption
        ]
        s3.put_bucket_encryption(
            Bucket=name, ServerSideEncryptionConfiguration={"Rules": api_rules}
        )
    rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
    if rules:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [lifecycle_rule(r) for r in rules]}
        )


def main(template_path):
    with open(template_path, encoding="utf-8") as handle:
        template = yaml.load(handle, Loader=CfnLoader)
    resolve = Resolver(template).value
    table = resolve(the_resource(template, "AWS::DynamoDB::Table"))
    bucket = resolve(the_resource(template, "AWS::S3::Bucket"))

    region = os.environ.get("AWS_REGION", "us-east-1")
    dynamodb = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"], region_name=region)
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"], region_name=region)

    wait_until_ready(dynamodb.list_tables, "DynamoDB Local")
    wait_until_ready(s3.list_buckets, "the moto server")
    create_table(dynamodb, os.environ["TABLE_NAME"], table)
    create_bucket(s3, os.environ["BUCKET_NAME"], bucket)


if __name__ == "__main__":
    main(sys.argv[1])
