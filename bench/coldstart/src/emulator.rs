//! A minimal Lambda Runtime API (the `2018-06-01` paths `lambda_runtime` calls): `next` hands
//! out the queued events, then holds the request open as Lambda does while a sandbox is idle;
//! `response` and `error` are recorded with the instant they arrived.

use crate::Target;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the function is invoked with.
#[derive(Clone, Copy)]
pub enum Event {
    /// An API Gateway REST API (the stack's, stage `bridge`) request without credentials:
    /// answered 401.
    Http {
        method: &'static str,
        path: &'static str,
    },
    /// A DynamoDB stream batch with no records (the workers answer no failures).
    EmptyStreamBatch,
    /// EventBridge's scheduled event (reconcile).
    Scheduled,
    /// CCAI's External Session Events: a batch of five new events with the right Basic
    /// credentials, stored in the inbox (a durable write, to DynamoDB Local) before the answer.
    EseBatch,
}

impl Event {
    fn body(self, n: usize) -> Vec<u8> {
        if let Event::EseBatch = self {
            return ese_batch(n);
        }
        let value = match self {
            Event::EseBatch => unreachable!("answered above"),
            Event::Http { method, path } => serde_json::json!({
                "resource": path,
                "path": path,
                "httpMethod": method,
                "headers": {
                    "content-type": "application/json",
                    "Host": "bench.execute-api.eu-west-1.amazonaws.com",
                    "User-Agent": "coldstart"
                },
                "multiValueHeaders": {
                    "content-type": ["application/json"],
                    "Host": ["bench.execute-api.eu-west-1.amazonaws.com"],
                    "User-Agent": ["coldstart"]
                },
                "queryStringParameters": null,
                "multiValueQueryStringParameters": null,
                "pathParameters": null,
                "stageVariables": null,
                "requestContext": {
                    "accountId": "123456789012",
                    "apiId": "bench",
                    "domainName": "bench.execute-api.eu-west-1.amazonaws.com",
                    "domainPrefix": "bench",
                    "httpMethod": method,
                    "identity": {"sourceIp": "192.0.2.1", "userAgent": "coldstart"},
                    "path": format!("/bridge{path}"),
                    "protocol": "HTTP/1.1",
                    "requestId": format!("bench-{n}"),
                    "requestTime": "02/Dec/2026:16:00:00 +0000",
                    "requestTimeEpoch": 1_796_227_200_000u64,
                    "resourcePath": path,
                    "stage": "bridge"
                },
                "body": "[]",
                "isBase64Encoded": false
            }),
            Event::EmptyStreamBatch => serde_json::json!({ "Records": [] }),
            Event::Scheduled => serde_json::json!({
                "version": "0",
                "id": format!("bench-{n}"),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "123456789012",
                "time": "2026-12-02T16:00:00Z",
                "region": "eu-west-1",
                "resources": ["arn:aws:events:eu-west-1:123456789012:rule/bench"],
                "detail": {}
            }),
        };
        serde_json::to_vec(&value).unwrap()
    }

    /// Whether the answer is the one this event should get.
    fn expected(self, answer: &Answer) -> Result<(), String> {
        match (self, answer) {
            (Event::Http { .. }, Answer::Response(body)) => {
                let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                match value.get("statusCode").and_then(|s| s.as_u64()) {
                    Some(401) => Ok(()),
                    other => Err(format!("expected a 401, got {other:?}: {value}")),
                }
            }
            (Event::EmptyStreamBatch, Answer::Response(body)) => {
                let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                match value.get("batchItemFailures").and_then(|f| f.as_array()) {
                    Some(failures) if failures.is_empty() => Ok(()),
                    _ => Err(format!("expected no batch item failures, got {value}")),
                }
            }
            (Event::EseBatch, Answer::Response(body)) => {
                let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                match value.get("statusCode").and_then(|s| s.as_u64()) {
                    Some(200..=299) => Ok(()),
                    other => Err(format!("expected the batch stored, got {other:?}: {value}")),
                }
            }
            // The scheduled run needs the state table; the bench gives it none (the endpoint
            // refuses), so its answer is the error naming the store, and what is measured is
            // the start and one failed query.
            (Event::Scheduled, _) => Ok(()),
            (_, Answer::Error(body)) => Err(format!(
                "invocation error: {}",
                String::from_utf8_lossy(body)
            )),
        }
    }
}

/// A REST API request carrying five new session events and the events' Basic credentials
/// (`CCAI_EVENTS_CREDENTIALS` of the bench's environment).
fn ese_batch(n: usize) -> Vec<u8> {
    let nonce = format!(
        "{}-{}-{n}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let events: Vec<serde_json::Value> = (0..5)
        .map(|i| {
            serde_json::json!({
                "event_id": format!("bench-{nonce}-{i}"),
                "timestamp": 1_796_227_200_000u64 + i,
                "item": {"call_id": 1_000_000 + n as u64 * 10 + i, "state": "connected",
                         "participants": [{"type": "external", "state": "connected"}]}
            })
        })
        .collect();
    let body = serde_json::json!({"count": 5, "events": events}).to_string();
    // base64 of `ccai:bench-password`.
    let basic = "Basic Y2NhaTpiZW5jaC1wYXNzd29yZA==";
    let path = "/webhooks/ccai";
    let value = serde_json::json!({
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": {"content-type": "application/json", "Authorization": basic,
                    "Host": "bench.execute-api.eu-west-1.amazonaws.com"},
        "multiValueHeaders": {"content-type": ["application/json"], "Authorization": [basic],
                              "Host": ["bench.execute-api.eu-west-1.amazonaws.com"]},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench",
            "domainName": "bench.execute-api.eu-west-1.amazonaws.com", "domainPrefix": "bench",
            "httpMethod": "POST", "identity": {"sourceIp": "192.0.2.1", "userAgent": "coldstart"},
            "path": format!("/bridge{path}"), "protocol": "HTTP/1.1",
            "requestId": format!("bench-{nonce}"),
            "requestTime": "02/Dec/2026:16:00:00 +0000", "requestTimeEpoch": 1_796_227_200_000u64,
            "resourcePath": path, "stage": "bridge"
        },
        "body": body,
        "isBase64Encoded": false
    });
    serde_json::to_vec(&value).unwrap()
}

enum Answer {
    Response(Bytes),
    Error(Bytes),
}

enum Mark {
    Next(Instant),
    Answered(Instant, Answer),
    InitError(Bytes),
}

struct Emulator {
    queue: Mutex<VecDeque<Vec<u8>>>,
    marks: mpsc::UnboundedSender<Mark>,
}

async fn next(State(emulator): State<Arc<Emulator>>) -> impl IntoResponse {
    let _ = emulator.marks.send(Mark::Next(Instant::now()));
    let event = emulator.queue.lock().unwrap().pop_front();
    let Some(body) = event else {
        // An idle sandbox: the request stays open until the process is stopped.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    let id = format!("{:016x}", rand_id());
    headers.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_str(&id).unwrap(),
    );
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 15_000;
    headers.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_str(&deadline.to_string()).unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:eu-west-1:123456789012:function:bench"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, body)
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

async fn response(
    State(emulator): State<Arc<Emulator>>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answered(&emulator, Answer::Response(body))
}

async fn error(
    State(emulator): State<Arc<Emulator>>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answered(&emulator, Answer::Error(body))
}

fn answered(emulator: &Emulator, answer: Answer) -> StatusCode {
    let _ = emulator.marks.send(Mark::Answered(Instant::now(), answer));
    StatusCode::ACCEPTED
}

async fn init_error(State(emulator): State<Arc<Emulator>>, body: Bytes) -> StatusCode {
    let _ = emulator.marks.send(Mark::InitError(body));
    StatusCode::ACCEPTED
}

/// One start's figures.
#[derive(Clone)]
pub struct Run {
    pub init: Duration,
    pub first: Duration,
    pub warm: Duration,
    pub peak_rss_kib: u64,
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Starts `target` once and invokes it `1 + warm` times.
pub async fn start(target: &Target, warm: usize) -> Result<Run, String> {
    let (marks_tx, mut marks) = mpsc::unbounded_channel();
    let events = (0..=warm).map(|n| target.event.body(n)).collect();
    let emulator = Arc::new(Emulator {
        queue: Mutex::new(events),
        marks: marks_tx,
    });
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(emulator);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    // `COLDSTART_WRAP`, e.g. `strace -f -tt -o /tmp/trace`: where a start's time goes.
    let wrap = std::env::var("COLDSTART_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut command = tokio::process::Command::new(program);
            command.args(words).arg(&target.binary);
            command
        }
        None => tokio::process::Command::new(&target.binary),
    };
    command
        .env_clear()
        .envs(crate::report::environment(target, &address.to_string()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let spawned = Instant::now();
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let pid = child.id().ok_or("no pid")?;

    let outcome = async {
        let mut init = None;
        let mut handed = None;
        let mut answers = Vec::new();
        while answers.len() <= warm {
            let mark = tokio::time::timeout(Duration::from_secs(30), marks.recv())
                .await
                .map_err(|_| "no word from the function in 30 s".to_string())?
                .ok_or("emulator gone")?;
            match mark {
                Mark::Next(at) => {
                    init.get_or_insert(at - spawned);
                    handed = Some(at);
                }
                Mark::Answered(at, answer) => {
                    target.event.expected(&answer)?;
                    answers.push(at - handed.ok_or("an answer before any event")?);
                }
                Mark::InitError(body) => {
                    return Err(format!("init error: {}", String::from_utf8_lossy(&body)));
                }
            }
        }
        let peak_rss_kib = peak_rss_kib(pid)?;
        let first = answers[0];
        let mut rest: Vec<Duration> = answers[1..].to_vec();
        rest.sort();
        Ok(Run {
            init: init.ok_or("never asked for an event")?,
            first,
            warm: rest.get(rest.len() / 2).copied().unwrap_or_default(),
            peak_rss_kib,
        })
    }
    .await;
    let _ = child.kill().await;
    server.abort();
    outcome
}

/// `VmHWM`: the most resident memory the process has had.
fn peak_rss_kib(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM".into())
}
