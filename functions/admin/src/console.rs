//! The admin console (`GET /admin/`, R-ADM-1): one page and its script and style, embedded in
//! the binary (no build step, no CDN). Plain HTML, CSS and JavaScript, no framework: the page
//! is a few tables and forms over the admin API, and a library would be more code to vet than
//! the page itself. Served with a strict Content-Security-Policy: only the bridge's own script
//! and style, no inline code, no framing, calls to the bridge's own origin only.
//!
//! The assets need no token (they hold no data); every call the page makes carries the session
//! its sign-in window handed it (`access`).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

const INDEX: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
const STYLE: &str = include_str!("../console/console.css");

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                      img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The asset at `route` (`/admin`, `/admin/console.js`, `/admin/console.css`), or `None`.
/// `prefix`: the path in front of every route where browsers reach the bridge (the REST API's
/// stage; empty on a custom domain or the local host).
pub fn asset(route: &str, prefix: &str) -> Option<Response<Body>> {
    let (content_type, body) = match route {
        "/admin" => (
            "text/html; charset=utf-8",
            INDEX.replace("{{prefix}}", &escape(prefix)),
        ),
        "/admin/console.js" => ("text/javascript; charset=utf-8", SCRIPT.to_owned()),
        "/admin/console.css" => ("text/css; charset=utf-8", STYLE.to_owned()),
        _ => return None,
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .header("content-security-policy", POLICY)
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("x-frame-options", "DENY")
        // The page changes with each deploy; a stale script against a newer API is worse than
        // a second request.
        .header("cache-control", "no-cache")
        .body(Body::Text(body))
        .ok()
}

/// The path part of the bridge's public URL (`https://x.execute-api…/bridge` → `/bridge`).
pub fn prefix_of(base: Option<&str>) -> String {
    base.and_then(|b| url_path(b))
        .map(|p| p.trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

/// The path of an absolute URL, without a URL crate: `scheme://authority/path`.
fn url_path(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    Some(rest.find('/').map_or("", |at| &rest[at..]))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn r_adm_1_the_console_is_served_with_its_prefix_and_a_strict_policy() {
        assert_eq!(
            prefix_of(Some("https://a.execute-api.eu-west-1.amazonaws.com/bridge")),
            "/bridge"
        );
        assert_eq!(prefix_of(Some("https://bridge.example.com/")), "");
        assert_eq!(prefix_of(None), "");
        let page = asset("/admin", "/bridge").unwrap();
        let policy = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe"));
        let Body::Text(html) = page.body() else {
            panic!("not text")
        };
        assert!(html.contains("src=\"/bridge/admin/console.js\""), "{html}");
        assert!(!html.contains("<script>"), "no inline script");
        assert!(asset("/admin/other.js", "").is_none());
    }
}
