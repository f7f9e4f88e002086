"""Expands template.yaml's SAM resources offline and prints the CloudFormation resource list.

Fails (exit 1) when the SAM translator refuses the template. No AWS call is made: managed
policy names are not resolved to ARNs (the loader answers none).
"""

import sys

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class OfflinePolicyLoader:
    def load(self):
        return {}


def main(path):
    with open(path, encoding="utf-8") as handle:
        template = yaml_parse(handle.read())
    # `sam package` replaces local code folders with S3 locations before the transform runs;
    # do the same so the offline transform sees what CloudFormation would.
    for name, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        code = properties.get("CodeUri")
        if resource.get("Type") == "AWS::Serverless::Function" and isinstance(code, str) and not code.startswith("s3://"):
            properties["CodeUri"] = f"s3://packaged-artifacts/{name}.zip"
    try:
        expanded = transform(template, {}, OfflinePolicyLoader())
    except InvalidDocumentException as err:
        for cause in err.causes:
            print(f"SAM: {cause.message}", file=sys.stderr)
        sys.exit(1)
    resources = expanded["Resources"]
    kinds = sorted({r["Type"] for r in resources.values()})
    print(f"template: {len(resources)} CloudFormation resources ({', '.join(kinds)})")


if __name__ == "__main__":
    main(sys.argv[1])
