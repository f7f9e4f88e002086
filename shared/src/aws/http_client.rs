//! The AWS SDK's HTTP client on this project's own `reqwest` client ([`crate::http::builder`]):
//! rustls on *ring* trusting the Mozilla roots compiled in by `webpki-roots`, already parsed.
//!
//! The SDK's own client (`aws-smithy-http-client`) takes its trust store as PEM only, so a
//! compiled-in store had to be base64-encoded and parsed back at every cold start — 7 of the
//! intake's 11 million instructions of init under callgrind — and it linked a second hyper
//! client beside reqwest's (issue 27: init and zip size; bench/RESULTS.md). Requests and
//! answers stream both ways (a 1 GiB recording is never held in memory), and transport errors
//! keep the kinds the SDK's retry policy reads: a timeout, an I/O failure (connection refused
//! or reset: retried), or another error.
//!
//! Not carried over from the SDK's client: connection poisoning (after a transient error the
//! SDK asks its client to drop that connection; reqwest's pool keeps a connection that is still
//! open, so a retry after a 5xx may reuse it). A connection the server closed is not reused.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The SDK's client: one `reqwest` connection pool per timeout setting the SDK asks for (in
/// practice one: connect 3.1 s, no read timeout).
pub fn shared_client() -> SharedHttpClient {
    SharedHttpClient::new(ReqwestHttpClient::default())
}

/// The connect and read timeouts the SDK asked a connector for.
type Timeouts = (Option<Duration>, Option<Duration>);

#[derive(Debug, Default)]
struct ReqwestHttpClient {
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = match self.connectors.lock() {
            Ok(connectors) => connectors,
            Err(poisoned) => poisoned.into_inner(),
        };
        connectors
            .entry(key)
            .or_insert_with(|| {
                // The SDK follows S3's redirects itself and reads every answer as sent.
                let mut builder = crate::http::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .pool_idle_timeout(Duration::from_secs(50));
                if let Some(connect) = key.0 {
                    builder = builder.connect_timeout(connect);
                }
                if let Some(read) = key.1 {
                    builder = builder.read_timeout(read);
                }
                SharedHttpConnector::new(ReqwestConnector {
                    client: builder.build().map_err(Arc::new),
                })
            })
            .clone()
    }
}

#[derive(Debug)]
struct ReqwestConnector {
    /// A client that could not be built (the TLS backend refused to start) fails each request.
    client: Result<reqwest::Client, Arc<reqwest::Error>>,
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = match &self.client {
            Ok(client) => client.clone(),
            Err(err) => {
                let message = format!("HTTP client: {err}");
                return HttpConnectorFuture::ready(Err(ConnectorError::other(
                    message.into(),
                    None,
                )));
            }
        };
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|err| ConnectorError::user(err.into()))?
                .map(reqwest::Body::wrap);
            let signed = request.uri().clone();
            let request = reqwest::Request::try_from(request)
                .map_err(|err| ConnectorError::user(err.into()))?;
            unchanged(&signed, request.url())?;
            let response = client.execute(request).await.map_err(transport_error)?;
            let response: http::Response<reqwest::Body> = response.into();
            let response = response.map(SdkBody::from_body_1_x);
            HttpResponse::try_from(response).map_err(|err| ConnectorError::other(err.into(), None))
        })
    }
}

/// reqwest sends a parsed URL, and parsing normalises: `.` and `..` path segments go, the host is
/// lowercased. The SDK signed the URI as it built it (S3 signs the path as is), so a request
/// whose path or host would change is refused here, as the caller's error, rather than sent to
/// be answered 403 (an object named `exports/./call.wav`).
fn unchanged(signed: &http::Uri, sent: &reqwest::Url) -> Result<(), ConnectorError> {
    let same = signed.path() == sent.path()
        && signed.query() == sent.query()
        && signed.host().unwrap_or_default() == sent.host_str().unwrap_or_default();
    if same {
        return Ok(());
    }
    Err(ConnectorError::user(
        format!(
            "the request's URL would change on the way out ({} sent as {}): not sent",
            signed.path(),
            sent.path()
        )
        .into(),
    ))
}

/// The kinds the SDK's retry classifier reads: timeouts and I/O failures are transient.
fn transport_error(err: reqwest::Error) -> ConnectorError {
    if err.is_timeout() {
        ConnectorError::timeout(err.into())
    } else if err.is_connect() || err.is_request() || err.is_body() {
        ConnectorError::io(err.into())
    } else {
        ConnectorError::other(err.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(port: u16) -> HttpRequest {
        HttpRequest::try_from(
            http::Request::builder()
                .uri(format!("http://127.0.0.1:{port}/"))
                .body(SdkBody::from("{}"))
                .unwrap(),
        )
        .unwrap()
    }

    fn connector(read_timeout: Option<Duration>) -> ReqwestConnector {
        let mut builder = crate::http::builder();
        if let Some(read) = read_timeout {
            builder = builder.read_timeout(read);
        }
        ReqwestConnector {
            client: Ok(builder.build().unwrap()),
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_which_the_sdk_retries() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let err = connector(None).call(request(port)).await.unwrap_err();
        assert!(err.is_io(), "{err:?}");
    }

    #[tokio::test]
    async fn a_silent_server_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(socket);
        });
        let err = connector(Some(Duration::from_millis(200)))
            .call(request(port))
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        held.abort();
    }

    #[tokio::test]
    async fn a_path_the_url_parser_would_rewrite_is_refused_not_sent() {
        // A listener that would answer anything: nothing must reach it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        for path in ["/bucket/exports/./call.wav", "/bucket/a/../b.wav"] {
            let request = HttpRequest::try_from(
                http::Request::builder()
                    .uri(format!("http://127.0.0.1:{port}{path}"))
                    .body(SdkBody::empty())
                    .unwrap(),
            )
            .unwrap();
            let err = connector(Some(Duration::from_millis(500)))
                .call(request)
                .await
                .unwrap_err();
            assert!(err.is_user(), "{path}: {err:?}");
        }
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err(), "a rewritten request was sent");
        // Percent-encoded keys and queries go out as signed.
        let fine = HttpRequest::try_from(
            http::Request::builder()
                .uri(format!(
                    "http://127.0.0.1:{port}/bucket/a%20b%2Fc.wav?uploadId=1&partNumber=2"
                ))
                .body(SdkBody::empty())
                .unwrap(),
        )
        .unwrap();
        let sent =
            reqwest::Request::try_from(fine.try_into_http1x().unwrap().map(reqwest::Body::wrap))
                .unwrap();
        let signed: http::Uri =
            format!("http://127.0.0.1:{port}/bucket/a%20b%2Fc.wav?uploadId=1&partNumber=2")
                .parse()
                .unwrap();
        assert!(unchanged(&signed, sent.url()).is_ok());
    }

    #[tokio::test]
    async fn an_answer_comes_back_as_sent_without_following_a_redirect() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0; 4096];
            let _ = socket.read(&mut buffer).await.unwrap();
            socket
                .write_all(
                    b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:9/\r\n\
                      x-amz-request-id: r1\r\ncontent-length: 5\r\n\r\nmoved",
                )
                .await
                .unwrap();
        });
        let client = ReqwestHttpClient::default();
        let settings = HttpConnectorSettings::builder()
            .connect_timeout(Duration::from_secs(1))
            .build();
        let components =
            aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder::for_tests()
                .build()
                .unwrap();
        let response = client
            .http_connector(&settings, &components)
            .call(request(port))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 307);
        assert_eq!(response.headers().get("x-amz-request-id"), Some("r1"));
        use http_body_util::BodyExt;
        let body = response.into_body().collect().await.unwrap();
        assert_eq!(&body.to_bytes()[..], b"moved");
    }
}
