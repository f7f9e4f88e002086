//! Recording downloads as streams: Basic credentials go to the tenant host only; redirects are
//! followed by hand (at most five) and credentials are dropped once the host changes; a body
//! that ends before its `Content-Length` is an error, never a short file.

use super::client::CcaiClient;
use super::error::CcaiError;
use crate::blob::ByteStream;
use futures::StreamExt;
use reqwest::StatusCode;

const MAX_REDIRECTS: usize = 5;

pub struct Recording {
    /// From `Content-Length` when the server gave it.
    pub length: Option<u64>,
    pub content_type: Option<String>,
    pub body: ByteStream,
}

fn origin(url: &reqwest::Url) -> (String, String, Option<u16>) {
    (
        url.scheme().to_owned(),
        url.host_str().unwrap_or_default().to_owned(),
        url.port_or_known_default(),
    )
}

impl CcaiClient {
    pub async fn download_recording(&self, recording_url: &str) -> Result<Recording, CcaiError> {
        let invalid = |what: &str| CcaiError::Invalid(format!("recording URL {what}"));
        let tenant =
            reqwest::Url::parse(&self.base_url).map_err(|_| invalid("base URL unparseable"))?;
        let mut url = tenant
            .join(recording_url)
            .map_err(|_| invalid("unparseable"))?;
        for _ in 0..=MAX_REDIRECTS {
            let same_tenant = origin(&url) == origin(&tenant);
            let mut request = self.downloads.get(url.clone());
            if same_tenant {
                self.throttle().await;
                request = self.authorise(request);
            }
            let response = request.send().await.map_err(|e| CcaiError::Transport {
                operation: "download recording".into(),
                message: crate::http::describe(&e),
            })?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| invalid("redirect without Location"))?;
                url = url
                    .join(location)
                    .map_err(|_| invalid("redirect target unparseable"))?;
                continue;
            }
            if !status.is_success() {
                let body = response.bytes().await.unwrap_or_default();
                let message = super::client::platform_message(&body);
                return Err(match status {
                    StatusCode::NOT_FOUND => CcaiError::NotFound {
                        what: "recording".into(),
                    },
                    s if s.is_server_error() => CcaiError::Server {
                        operation: "download recording".into(),
                        status: s.as_u16(),
                        message,
                    },
                    s => CcaiError::Client {
                        operation: "download recording".into(),
                        status: s.as_u16(),
                        message,
                    },
                });
            }
            let length = response.content_length();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            return Ok(Recording {
                length,
                content_type,
                body: checked(response, length),
            });
        }
        Err(CcaiError::Invalid(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    }
}

/// The body as a stream that fails, rather than ends, when fewer bytes arrive than announced.
fn checked(response: reqwest::Response, length: Option<u64>) -> ByteStream {
    let mut received = 0u64;
    let mut finished = false;
    let mut inner = response.bytes_stream();
    futures::stream::poll_fn(move |cx| {
        if finished {
            return std::task::Poll::Ready(None);
        }
        match inner.poll_next_unpin(cx) {
            std::task::Poll::Ready(Some(Ok(chunk))) => {
                received += chunk.len() as u64;
                std::task::Poll::Ready(Some(Ok(chunk)))
            }
            std::task::Poll::Ready(Some(Err(err))) => {
                finished = true;
                std::task::Poll::Ready(Some(Err(std::io::Error::other(format!(
                    "recording broke off after {received} bytes: {err}"
                )))))
            }
            std::task::Poll::Ready(None) => {
                finished = true;
                match length {
                    Some(expected) if received != expected => {
                        std::task::Poll::Ready(Some(Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("recording ended after {received} of {expected} bytes"),
                        ))))
                    }
                    _ => std::task::Poll::Ready(None),
                }
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    })
    .boxed()
}
