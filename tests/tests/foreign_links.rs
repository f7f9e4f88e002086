//! Review S12 (R-SEC-5): credentials go only to their own hosts. A platform that answers a list
//! with a next page on another host (a misbehaving or compromised upstream, a proxy rewriting
//! links) is not followed: the clients send their API key or Basic credentials with every
//! request. A stand-in upstream serves the first page with such a link and records every
//! request; a next page on the same origin, absolute or relative, is still followed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use axum::extract::{Query, State};
use axum::routing::get;
use bridge_shared::ccai::CcaiClient;
use bridge_shared::config::{KustomerSettings, Secret};
use bridge_shared::http::RetryPolicy;
use bridge_shared::kustomer::KustomerClient;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Upstream {
    /// Where the first page's next link points (`{base}` is the stand-in's own URL).
    next: Arc<Mutex<String>>,
    base: Arc<Mutex<String>>,
    /// (path, query, authorization) of every request received.
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
}

fn next_link(upstream: &Upstream) -> String {
    let base = upstream.base.lock().unwrap().clone();
    upstream.next.lock().unwrap().replace("{base}", &base)
}

async fn start() -> Upstream {
    let upstream = Upstream::default();
    let app = axum::Router::new()
        .route(
            "/v1/routing/statuses",
            get(
                |State(u): State<Upstream>,
                 Query(q): Query<HashMap<String, String>>,
                 headers: axum::http::HeaderMap| async move {
                    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
                    u.seen.lock().unwrap().push(("statuses".into(), format!("{q:?}"), auth));
                    let page = q.get("page").cloned().unwrap_or_else(|| "1".into());
                    let next = if page == "1" { json!(next_link(&u)) } else { json!(null) };
                    axum::Json(json!({"data": [{"type": "status", "id": format!("s{page}"), "attributes": {"name": "Available"}}], "links": {"next": next}}))
                },
            ),
        )
        .route(
            "/manager/api/v1/agents",
            get(
                |State(u): State<Upstream>,
                 Query(q): Query<HashMap<String, String>>,
                 headers: axum::http::HeaderMap| async move {
                    let auth = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
                    u.seen.lock().unwrap().push(("agents".into(), format!("{q:?}"), auth));
                    let page = q.get("page").cloned().unwrap_or_else(|| "1".into());
                    let link = format!("<{}>; rel=\"next\"", next_link(&u).replace("/v1/routing/statuses", "/manager/api/v1/agents"));
                    let mut response = axum::response::IntoResponse::into_response(axum::Json(
                        json!([{"id": page.parse::<u64>().unwrap_or(1), "email": "ana@example.com"}]),
                    ));
                    if page == "1" {
                        response.headers_mut().insert("link", link.parse().unwrap());
                    }
                    response
                },
            ),
        )
        .with_state(upstream.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    *upstream.base.lock().unwrap() = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    upstream
}

fn clients(upstream: &Upstream) -> (KustomerClient, CcaiClient) {
    let base = upstream.base.lock().unwrap().clone();
    let http = bridge_shared::http::builder().build().unwrap();
    let kustomer = KustomerClient::new(
        &KustomerSettings {
            base_url: base.clone(),
            api_key: Secret::new("k-key-never-elsewhere"),
        },
        http.clone(),
        RetryPolicy::immediate(1),
    );
    let ccai = CcaiClient::with_credentials(
        &base,
        "acme",
        Secret::new("c-token"),
        http,
        RetryPolicy::immediate(1),
    );
    (kustomer, ccai)
}

#[tokio::test]
async fn s12_r_sec_5_a_next_page_on_a_foreign_host_is_not_followed() {
    let upstream = start().await;
    // Another port of the same machine: another origin, one that would record the key.
    let elsewhere = start().await;
    let foreign = format!(
        "{}/v1/routing/statuses?page=2",
        elsewhere.base.lock().unwrap()
    );
    *upstream.next.lock().unwrap() = foreign;
    let (kustomer, ccai) = clients(&upstream);
    let err = kustomer.routing_statuses().await.unwrap_err().to_string();
    assert!(err.contains("another host"), "{err}");
    let err = ccai.agents().await.unwrap_err().to_string();
    assert!(err.contains("another host"), "{err}");
    assert!(
        elsewhere.seen.lock().unwrap().is_empty(),
        "no request, no credential reached the other host"
    );

    // The same origin, absolute or relative: followed.
    for next in [
        "{base}/v1/routing/statuses?page=2",
        "/v1/routing/statuses?page=2",
    ] {
        *upstream.next.lock().unwrap() = next.into();
        assert_eq!(
            kustomer.routing_statuses().await.unwrap().len(),
            2,
            "{next}"
        );
        assert_eq!(ccai.agents().await.unwrap().len(), 2, "{next}");
    }
}
