//! The stream subscriptions `template.yaml` gives the functions (`Type: DynamoDB` events),
//! read from the template itself so the local host delivers exactly as the event source
//! mapping is configured: batch size, filters, retries, bisection, per-record failures, and the
//! on-failure destination.

use super::filter::Pattern;
use yaml_rust2::{Yaml, YamlLoader};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartingPosition {
    /// Every record the stream still holds.
    TrimHorizon,
    /// Only records written after the reader starts.
    Latest,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Subscription {
    /// The function, by its handler name (`Properties.Handler`), e.g. `sync`.
    pub function: String,
    /// The event's name in the template, e.g. `Inbox`.
    pub name: String,
    pub starting_position: StartingPosition,
    pub batch_size: usize,
    /// Retries after the first attempt; `None` = until the record expires (AWS's `-1`).
    pub max_retries: Option<u32>,
    pub bisect_on_error: bool,
    pub report_item_failures: bool,
    pub filters: Vec<Pattern>,
    /// The on-failure destination's logical id, e.g. `DeadLetterQueue`.
    pub on_failure: Option<String>,
    /// `ParallelizationFactor` (1–10, AWS's default 1): batches of one shard processed at
    /// once, records of one partition key always in order.
    pub parallelization: usize,
}

pub(super) fn number(properties: &Yaml, name: &str) -> Option<i64> {
    properties[name]
        .as_i64()
        .or_else(|| properties[name].as_str().and_then(|s| s.parse().ok()))
}

/// The logical id an intrinsic such as `!GetAtt DeadLetterQueue.Arn` refers to.
pub(super) fn referenced_resource(value: &Yaml) -> Option<String> {
    let text = match value {
        Yaml::String(s) => s.clone(),
        Yaml::Hash(map) => map.values().next()?.as_str()?.to_owned(),
        Yaml::Array(parts) => parts.first()?.as_str()?.to_owned(),
        _ => return None,
    };
    Some(text.split('.').next().unwrap_or_default().to_owned())
}

/// Every `DynamoDB` event of every `AWS::Serverless::Function` in `template`.
pub fn template_subscriptions(template: &str) -> Result<Vec<Subscription>, String> {
    let documents =
        YamlLoader::load_from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
    let root = documents.first().ok_or("template.yaml is empty")?;
    let Some(resources) = root["Resources"].as_hash() else {
        return Err("template.yaml has no Resources".into());
    };
    let mut subscriptions = Vec::new();
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap_or("?");
        let Some(events) = resource["Properties"]["Events"].as_hash() else {
            continue;
        };
        for (event_name, event) in events {
            if event["Type"].as_str() != Some("DynamoDB") {
                continue;
            }
            let function = resource["Properties"]["Handler"]
                .as_str()
                .ok_or_else(|| format!("{name}: no Properties.Handler"))?;
            let event_name = event_name.as_str().unwrap_or("?").to_owned();
            let p = &event["Properties"];
            let starting_position = match p["StartingPosition"].as_str() {
                Some("TRIM_HORIZON") => StartingPosition::TrimHorizon,
                Some("LATEST") => StartingPosition::Latest,
                other => return Err(format!("{name}.{event_name}: StartingPosition {other:?}")),
            };
            let mut filters = Vec::new();
            if let Some(list) = p["FilterCriteria"]["Filters"].as_vec() {
                for filter in list {
                    let text = filter["Pattern"]
                        .as_str()
                        .ok_or_else(|| format!("{name}.{event_name}: a filter without Pattern"))?;
                    filters.push(
                        Pattern::parse(text).map_err(|e| format!("{name}.{event_name}: {e}"))?,
                    );
                }
            }
            let report_item_failures = p["FunctionResponseTypes"].as_vec().is_some_and(|types| {
                types
                    .iter()
                    .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
            });
            subscriptions.push(Subscription {
                function: function.to_owned(),
                name: event_name,
                starting_position,
                // AWS's default for DynamoDB streams is 100.
                batch_size: number(p, "BatchSize").unwrap_or(100).max(1) as usize,
                max_retries: number(p, "MaximumRetryAttempts")
                    .filter(|n| *n >= 0)
                    .map(|n| n as u32),
                bisect_on_error: p["BisectBatchOnFunctionError"].as_bool() == Some(true),
                report_item_failures,
                filters,
                on_failure: referenced_resource(
                    &p["DestinationConfig"]["OnFailure"]["Destination"],
                ),
                parallelization: number(p, "ParallelizationFactor").unwrap_or(1).clamp(1, 10)
                    as usize,
            });
        }
    }
    Ok(subscriptions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::TEMPLATE;
    use serde_json::json;

    #[test]
    fn the_inbox_subscription_is_read_from_the_projects_template() {
        let subscriptions = template_subscriptions(TEMPLATE).unwrap();
        let inbox = subscriptions
            .iter()
            .find(|s| s.function == "sync")
            .expect("bridge-sync subscribes to the table's stream");
        assert_eq!(inbox.starting_position, StartingPosition::TrimHorizon);
        assert_eq!(inbox.batch_size, 25);
        assert_eq!(inbox.max_retries, Some(5));
        assert!(inbox.bisect_on_error && inbox.report_item_failures);
        assert_eq!(inbox.on_failure.as_deref(), Some("DeadLetterQueue"));
        assert_eq!(inbox.filters.len(), 1);
        let ended = |event_type: &str| {
            json!({"eventName": "INSERT", "dynamodb": {"Keys": {"sk": {"S": "INBOX"}},
                   "NewImage": {"body": {"M": {"type": {"S": event_type}}}}}})
        };
        // Every new inbox item reaches the inbox worker; finding 10 (each look and push acted on
        // only by the worker that reads its data type) is the hand-off's rule and the workers'.
        for hint in [
            "call.created",
            "call.ended",
            "call.look.metadata",
            "chat.file.metadata",
        ] {
            assert!(inbox.filters[0].matches(&ended(hint)), "{hint}");
        }

        // The stream's one reader: the file workers' looks and pushes come too, to be
        // handed to their queues (bridge_shared::queue::handoff).
        for hint in [
            "call.look.recordings",
            "chat.file.transcripts",
            "call.file.media",
        ] {
            assert!(inbox.filters[0].matches(&ended(hint)), "{hint}");
        }
        // Only new inbox items: updates and other items never wake it.
        let update = json!({"eventName": "MODIFY", "dynamodb": {"Keys": {"sk": {"S": "INBOX"}}}});
        let lease = json!({"eventName": "INSERT", "dynamodb": {"Keys": {"sk": {"S": "LEASE"}}}});
        assert!(!inbox.filters[0].matches(&update) && !inbox.filters[0].matches(&lease));
        assert_eq!(
            subscriptions.len(),
            1,
            "the file workers read queues: the stream keeps a reader free"
        );
    }
}
