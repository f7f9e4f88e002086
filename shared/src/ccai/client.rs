//! The CCAI Platform client: Basic auth, the tenant's shared rate limiter, bounded retries on
//! 429/5xx/timeouts for reads, typed errors from `{"message"}` answers, pagination over
//! `Link: rel="next"`.

use super::error::CcaiError;
use super::limiter::{RequestLimiter, for_tenant};
use crate::config::{CcaiSettings, Secret};
use crate::http::{RetryDecision, RetryPolicy};
use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;

pub struct CcaiClient {
    pub(super) http: reqwest::Client,
    pub(super) base_url: String,
    user: String,
    password: Secret,
    pub(super) retry: RetryPolicy,
    limiter: Arc<RequestLimiter>,
    /// Pacing shared across processes, when configured (replaces `limiter`).
    pacer: Option<Arc<dyn crate::pacing::Pacer>>,
    /// Shadow mode (R-F-2): only reads leave.
    reads_only: bool,
}

/// An answer: status, headers, body.
pub(super) struct Answer {
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub(super) fn platform_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        for field in ["message", "error"] {
            if let Some(text) = value.get(field).and_then(Value::as_str) {
                return text.to_owned();
            }
        }
    }
    let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
    crate::redact::redact(text.trim()).into_owned()
}

/// The kind of document an operation's answer holds (one, or a list of them), for the record
/// of what CCAI Platform sends (`crate::shapes`).
fn answer_kind(operation: &str) -> Option<crate::shapes::DocumentKind> {
    use crate::shapes::DocumentKind;
    match operation {
        "get call" | "list calls" => Some(DocumentKind::CcaiCall),
        "get chat" | "list chats" => Some(DocumentKind::CcaiChat),
        "get agent" | "list agents" => Some(DocumentKind::CcaiAgent),
        "user statuses" => Some(DocumentKind::CcaiUserStatus),
        _ => None,
    }
}

impl CcaiClient {
    /// A client for the tenant in `settings` (user = subdomain, password = API token).
    pub fn new(settings: &CcaiSettings, http: reqwest::Client, retry: RetryPolicy) -> Self {
        Self::with_credentials(
            &settings.base_url,
            &settings.subdomain,
            settings.api_token.clone(),
            http,
            retry,
        )
    }

    /// Any Basic credentials, e.g. the legacy company key and secret.
    pub fn with_credentials(
        base_url: &str,
        user: &str,
        password: Secret,
        http: reqwest::Client,
        retry: RetryPolicy,
    ) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        Self {
            limiter: for_tenant(&base_url),
            pacer: None,
            http,
            base_url,
            user: user.to_owned(),
            password,
            retry,
            reads_only: false,
        }
    }

    /// Shadow mode (`BRIDGE_MODE=shadow`, R-F-2): every request but a `GET` is refused here,
    /// unsent ([`CcaiError::Shadow`]).
    pub fn reading_only(mut self) -> Self {
        self.reads_only = true;
        self
    }

    /// Whether this client writes (`false` in shadow mode): the domain asks before it would.
    pub fn writes(&self) -> bool {
        !self.reads_only
    }

    pub(super) fn authorise(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(&self.user, Some(self.password.expose()))
    }

    /// Waits for the request's turn; `false` when it comes after the invocation's deadline.
    pub(super) async fn throttle(&self) -> bool {
        match &self.pacer {
            // A read: a second to be answered is enough to be worth sending.
            Some(pacer) => pacer.pace(std::time::Duration::from_secs(1)).await,
            None => {
                self.limiter.acquire().await;
                true
            }
        }
    }

    /// Paces this client's requests on `pacer` (shared by every process, R-E-8) instead of
    /// the process's own limiter.
    pub fn paced_by(mut self, pacer: Arc<dyn crate::pacing::Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base_url)
        }
    }

    async fn attempt(
        &self,
        operation: &'static str,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, CcaiError> {
        if self.reads_only && method != Method::GET {
            return Err(CcaiError::Shadow {
                operation: operation.into(),
            });
        }
        if !self.throttle().await {
            return Err(CcaiError::RateLimited {
                operation: operation.into(),
            });
        }
        let mut request = self
            .authorise(self.http.request(method.clone(), self.url(path)))
            .header("accept", "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let transport = |err: reqwest::Error| CcaiError::Transport {
            operation: operation.into(),
            message: if err.is_timeout() {
                "timed out".into()
            } else {
                crate::http::describe(&err)
            },
        };
        let sent = (method != Method::GET).then(|| crate::audit::Sent {
            platform: "ccai",
            operation,
            method: method.as_str(),
            url_or_path: path,
        });
        // Boxed: every platform call's future nests this one, and the passes nest many calls.
        let (status, headers, body) = Box::pin(crate::audit::exchange(request, sent))
            .await
            .map_err(transport)?;
        if status.is_success() {
            return Ok(Answer { headers, body });
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            crate::metrics::count("CcaiRateLimited", 1);
        }
        Err(match status {
            StatusCode::NOT_FOUND => CcaiError::NotFound {
                what: format!("{operation} ({})", platform_message(&body)),
            },
            StatusCode::TOO_MANY_REQUESTS => CcaiError::RateLimited {
                operation: operation.into(),
            },
            s if s.is_server_error() => CcaiError::Server {
                operation: operation.into(),
                status: s.as_u16(),
                message: platform_message(&body),
            },
            s => CcaiError::Client {
                operation: operation.into(),
                status: s.as_u16(),
                message: platform_message(&body),
            },
        })
    }

    /// Sends with retries: 429 always (the platform did not act), 5xx and timeouts only when
    /// `repeatable`.
    pub(super) async fn send(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        repeatable: bool,
    ) -> Result<Answer, CcaiError> {
        self.retry
            .run(
                operation,
                || self.attempt(operation, &method, path, body),
                |error, _| match error {
                    // 429: the platform did not act, so repeating is always safe.
                    CcaiError::RateLimited { .. } => RetryDecision::Backoff,
                    CcaiError::Server { .. } | CcaiError::Transport { .. } if repeatable => {
                        RetryDecision::Backoff
                    }
                    _ => RetryDecision::Stop,
                },
            )
            .await
    }

    pub(super) fn decode<T: DeserializeOwned>(
        operation: &'static str,
        body: &[u8],
    ) -> Result<T, CcaiError> {
        if let Some(kind) = answer_kind(operation) {
            crate::shapes::book::observe_each(kind, body);
        }
        serde_json::from_slice(body).map_err(|err| CcaiError::Decode {
            operation: operation.into(),
            message: err.to_string(),
        })
    }

    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
    ) -> Result<T, CcaiError> {
        let answer = self.send(operation, Method::GET, path, None, true).await?;
        Self::decode(operation, &answer.body)
    }

    /// Every page of a list: bodies are bare arrays, the next page is in `Link: <…>; rel="next"`.
    /// Returns the items and the `Total` header when given.
    pub(super) async fn get_all<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        first: &str,
        max_pages: usize,
    ) -> Result<(Vec<T>, Option<u64>), CcaiError> {
        let mut items = Vec::new();
        let mut total = None;
        let mut next = Some(first.to_owned());
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > max_pages {
                return Err(CcaiError::Decode {
                    operation: operation.into(),
                    message: format!("more than {max_pages} pages"),
                });
            }
            let answer = self.send(operation, Method::GET, &path, None, true).await?;
            let page: Vec<T> = Self::decode(operation, &answer.body)?;
            total = total.or_else(|| {
                answer
                    .headers
                    .get("total")?
                    .to_str()
                    .ok()?
                    .trim()
                    .parse()
                    .ok()
            });
            next = answer
                .headers
                .get_all("link")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link);
            if let Some(link) = next.take() {
                next = Some(
                    crate::http::same_origin_path(&self.base_url, &link).ok_or_else(|| {
                        CcaiError::Decode {
                            operation: operation.into(),
                            message: "the next page is on another host: not followed (the \
                                      credentials go only to the tenant)"
                                .into(),
                        }
                    })?,
                );
            }
            let empty = page.is_empty();
            items.extend(page);
            if empty {
                break;
            }
        }
        Ok((items, total))
    }
}

/// The `rel="next"` target of a `Link` header value.
pub(super) fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        is_next.then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_is_found_among_others() {
        let header = r#"<https://acme.example/manager/api/v1/calls?page=1>; rel="first", <https://acme.example/manager/api/v1/calls?page=3>; rel="next""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://acme.example/manager/api/v1/calls?page=3")
        );
        assert_eq!(next_link(r#"<x>; rel="last""#), None);
    }

    #[test]
    fn platform_messages_are_read_from_both_shapes() {
        assert_eq!(
            platform_message(br#"{"message":"Agent email required"}"#),
            "Agent email required"
        );
        assert_eq!(
            platform_message(br#"{"error":"Unauthorized","message":"bad key","status":401}"#),
            "bad key"
        );
    }
}
