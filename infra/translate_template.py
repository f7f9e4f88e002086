"""Expands template.yaml's SAM resources offline, checks what a deployed stack must hold, and
prints the CloudFormation resource list.

Fails (exit 1) when the SAM translator refuses the template, or when the expanded stack has
  - an IAM role whose policy allows `*` or `<service>:*` actions,
  - a Lambda function without a failure destination (asynchronous invocations) or an event
    source mapping without one,
  - a function whose log group is not a log group of the stack with a retention,
  - more than two readers of one DynamoDB stream (AWS throttles beyond two per shard),
  - two functions running the same code (one binary per function: the SAM template's
    `CodeUri` and cargo-lambda's `BuildProperties.Binary` together name a function's code),
  - a resource whose type differs from the type it had in the last release
    (`infra/released-resource-types.json`): CloudFormation cannot change a resource's type in
    place, so every stack deployed before would fail to update; a new type needs a new logical id.
No AWS call is made: managed policy names are not resolved to ARNs (the loader answers none).
infra/test_template_checks.py shows each check failing on a template that breaks it.
"""

import json
import os
import sys

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class OfflinePolicyLoader:
    def load(self):
        return {}


def expand(text):
    """The CloudFormation resources the SAM template expands to."""
    template = yaml_parse(text)
    # `sam package` replaces local code folders with S3 locations before the transform runs;
    # do the same so the offline transform sees what CloudFormation would.
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        code = properties.get("CodeUri")
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(code, str) and not code.startswith("s3://"):
            properties["CodeUri"] = f"s3://packaged-artifacts/{name}.zip"
    return transform(template, {}, OfflinePolicyLoader())["Resources"]


def ref(value):
    """The logical id a `Ref`/`GetAtt` points at, if it is one."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".")[0]
    return None


RELEASED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "released-resource-types.json")


def released_types():
    with open(RELEASED, encoding="utf-8") as handle:
        return json.load(handle)["types"]


def problems(resources, released=None):
    found = []
    for name, kind in (released if released is not None else released_types()).items():
        now = resources.get(name, {}).get("Type")
        if now is not None and now != kind:
            found.append(f"{name}: type {now}, released as {kind}; CloudFormation cannot change a type in place (give it a new logical id)")
    for name, resource in resources.items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                for statement in policy.get("PolicyDocument", {}).get("Statement", []):
                    actions = statement.get("Action", [])
                    actions = actions if isinstance(actions, list) else [actions]
                    for action in actions:
                        if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                            found.append(f"{name}: policy {policy.get('PolicyName')} allows {action}")
            for arn in properties.get("ManagedPolicyArns", []):
                if isinstance(arn, str) and arn.endswith("/AdministratorAccess"):
                    found.append(f"{name}: AdministratorAccess")
        if kind == "AWS::Lambda::EventSourceMapping":
            queue = resources.get(ref(properties.get("EventSourceArn")) or "", {})
            if queue.get("Type") == "AWS::SQS::Queue":
                found.extend(queue_problems(name, properties, queue, resources))
            elif not properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"):
                found.append(f"{name}: an event source mapping without an on-failure destination")
    readers = {}
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping":
            source = resource["Properties"].get("EventSourceArn")
            if ref(source) and "StreamArn" in str(source):
                readers.setdefault(ref(source), []).append(name)
    for table, mappings in readers.items():
        if len(mappings) > 2:
            found.append(f"{table}: {len(mappings)} readers of its stream ({', '.join(sorted(mappings))}); at most two")
    functions = [n for n, r in resources.items() if r["Type"] == "AWS::Lambda::Function"]
    with_destination = {
        ref(r["Properties"].get("FunctionName"))
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        and r["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    }
    for function in functions:
        if function not in with_destination:
            found.append(f"{function}: no failure destination for asynchronous invocations")
        group = ref(resources[function]["Properties"].get("LoggingConfig", {}).get("LogGroup"))
        log_group = resources.get(group or "", {})
        if log_group.get("Type") != "AWS::Logs::LogGroup":
            found.append(f"{function}: its log group is not one of the stack's (it would never expire)")
        elif not log_group.get("Properties", {}).get("RetentionInDays"):
            found.append(f"{function}: log group {group} has no retention")
    return found


def queue_problems(name, mapping, queue, resources):
    """An SQS trigger keeps what fails in the queue's own dead-letter queue (Lambda offers no
    on-failure destination for SQS), reports failed messages alone, and hides a message for at
    least six times the function's timeout (AWS's advice for a queue that triggers a function,
    Lambda Developer Guide, "Configuring an Amazon SQS queue to trigger a Lambda function"),
    and caps its concurrency (R-E-8)."""
    found = []
    properties = queue.get("Properties", {})
    if not properties.get("RedrivePolicy", {}).get("deadLetterTargetArn"):
        found.append(f"{name}: its queue has no dead-letter queue (RedrivePolicy)")
    if "ReportBatchItemFailures" not in mapping.get("FunctionResponseTypes", []):
        found.append(f"{name}: an SQS trigger that does not report failed messages alone")
    function = resources.get(ref(mapping.get("FunctionName")) or "", {})
    timeout = int(function.get("Properties", {}).get("Timeout", 3))
    visibility = int(properties.get("VisibilityTimeout", 30))
    if visibility < 6 * timeout:
        found.append(f"{name}: visibility timeout {visibility} s under six times the function's {timeout} s")
    # A backlog must drain at the platforms' pace (R-E-8), not by hundreds of workers at once.
    if not mapping.get("ScalingConfig", {}).get("MaximumConcurrency"):
        found.append(f"{name}: an SQS trigger without MaximumConcurrency")
    return found


def shared_code(text):
    """Functions whose code (CodeUri and cargo-lambda binary) is another function's."""
    template = yaml_parse(text)
    owners = {}
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        code = resource.get("Properties", {}).get("CodeUri")
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        owners.setdefault((str(code), str(binary)), []).append(name)
    return [
        f"{', '.join(sorted(names))}: one code for {len(names)} functions ({code}, binary {binary}); each function has its own binary"
        for (code, binary), names in owners.items()
        if len(names) > 1
    ]


def main(path):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        resources = expand(text)
    except InvalidDocumentException as err:
        for cause in err.causes:
            print(f"SAM: {cause.message}", file=sys.stderr)
        sys.exit(1)
    found = shared_code(text) + problems(resources)
    for problem in found:
        print(f"template: {problem}", file=sys.stderr)
    if found:
        sys.exit(1)
    kinds = sorted({r["Type"] for r in resources.values()})
    print(f"template: {len(resources)} CloudFormation resources ({', '.join(kinds)})")


if __name__ == "__main__":
    main(sys.argv[1])
