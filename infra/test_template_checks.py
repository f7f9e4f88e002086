"""The template checks of translate_template.py pass on template.yaml and fail on templates
that break each of them (run by infra/check-template)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import translate_template as checks  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(ROOT, "template.yaml"), encoding="utf-8") as handle:
    TEMPLATE = handle.read()


def problems_of(text):
    return checks.problems(checks.expand(text))


class TemplateChecks(unittest.TestCase):
    def test_the_projects_template_passes(self):
        self.assertEqual(problems_of(TEMPLATE), [])

    def test_a_resource_whose_type_changed_since_the_release_is_found(self):
        # The API was an HTTP API under this id until 2026-12-06 (review S6, helper review F1).
        released = {"BridgeApi": "AWS::ApiGatewayV2::Api"}
        broken = TEMPLATE.replace("BridgeRestApi", "BridgeApi")
        found = checks.problems(checks.expand(broken), released)
        self.assertTrue(any(p.startswith("BridgeApi: type AWS::ApiGateway::RestApi") for p in found), found)
        self.assertEqual(checks.problems(checks.expand(TEMPLATE), released), [])

    def test_two_functions_on_one_binary_are_found(self):
        self.assertEqual(checks.shared_code(TEMPLATE), [])
        broken = TEMPLATE.replace("Binary: bridge-admin\n", "Binary: bridge-status\n")
        self.assertNotEqual(broken, TEMPLATE)
        found = checks.shared_code(broken)
        self.assertTrue(any("AdminFunction, StatusFunction: one code" in p for p in found), found)

    def test_a_wildcard_action_is_found(self):
        broken = TEMPLATE.replace("                - dynamodb:GetItem\n", "                - dynamodb:*\n", 1)
        self.assertNotEqual(broken, TEMPLATE)
        self.assertTrue(any("allows dynamodb:*" in p for p in problems_of(broken)), problems_of(broken))

    def test_a_function_without_failure_destination_is_found(self):
        start = TEMPLATE.index("    EventInvokeConfig:\n")
        end = TEMPLATE.index("    Environment:\n", start)
        broken = TEMPLATE[:start] + TEMPLATE[end:]
        found = problems_of(broken)
        self.assertTrue(any("no failure destination" in p for p in found), found)

    def test_a_mapping_without_failure_destination_is_found(self):
        start = TEMPLATE.index("            DestinationConfig:\n              OnFailure:\n                Type: SQS\n")
        end = TEMPLATE.index("Destination: !GetAtt DeadLetterQueue.Arn\n", start) + len("Destination: !GetAtt DeadLetterQueue.Arn\n")
        broken = TEMPLATE[:start] + TEMPLATE[end:]
        found = problems_of(broken)
        self.assertTrue(any("event source mapping without" in p for p in found), found)

    def test_a_log_group_without_retention_is_found(self):
        broken = TEMPLATE.replace("      RetentionInDays: !Ref LogRetentionDays\n", "", 1)
        found = problems_of(broken)
        self.assertTrue(any("has no retention" in p for p in found), found)

    def test_a_function_without_its_log_group_is_found(self):
        broken = TEMPLATE.replace("      LoggingConfig:\n        LogGroup: !Ref SyncLogGroup\n", "", 1)
        self.assertNotEqual(broken, TEMPLATE)
        found = problems_of(broken)
        self.assertTrue(any("never expire" in p for p in found), found)

    def test_a_third_stream_reader_is_found(self):
        marker = "      Events:\n        Every:\n          Type: Schedule\n"
        self.assertIn(marker, TEMPLATE)
        reader = """        {name}:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt StateTable.StreamArn
            StartingPosition: LATEST
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt DeadLetterQueue.Arn
"""
        readers = reader.format(name="Second") + reader.format(name="Third")
        broken = TEMPLATE.replace(marker, marker.replace("      Events:\n", "      Events:\n" + readers), 1)
        found = problems_of(broken)
        self.assertTrue(any("3 readers of its stream" in p for p in found), found)

    def test_a_queue_trigger_without_dead_letters_or_with_a_short_visibility_is_found(self):
        queue = TEMPLATE.index("  RecordingQueue:\n")
        redrive = TEMPLATE.index("      RedrivePolicy:\n", queue)
        end = TEMPLATE.index("        maxReceiveCount: 5\n", redrive) + len("        maxReceiveCount: 5\n")
        broken = TEMPLATE[:redrive] + TEMPLATE[end:]
        found = problems_of(broken)
        self.assertTrue(any("RecordingFunctionFileWork: its queue has no dead-letter queue" in p for p in found), found)
        short = TEMPLATE[:queue] + TEMPLATE[queue:].replace("VisibilityTimeout: 1800", "VisibilityTimeout: 900", 1)
        found = problems_of(short)
        self.assertTrue(any("visibility timeout 900 s under six times the function's 300 s" in p for p in found), found)
        alone = TEMPLATE.replace("""            Queue: !GetAtt TranscriptQueue.Arn
            BatchSize: 4
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes:
              - ReportBatchItemFailures
""", """            Queue: !GetAtt TranscriptQueue.Arn
            BatchSize: 4
            MaximumBatchingWindowInSeconds: 1
""")
        self.assertNotEqual(alone, TEMPLATE)
        found = problems_of(alone)
        self.assertTrue(any("does not report failed messages alone" in p for p in found), found)
        uncapped = TEMPLATE.replace("""            ScalingConfig:
              MaximumConcurrency: 4
""", "", 1)
        self.assertNotEqual(uncapped, TEMPLATE)
        found = problems_of(uncapped)
        self.assertTrue(any("an SQS trigger without MaximumConcurrency" in p for p in found), found)

if __name__ == "__main__":
    unittest.main()
