//! The agent widget's page and assets (`GET /widget`, `GET /widget/{asset}`; R-A-1) and the
//! sign-in window's script (`signed-in.js`),
//! embedded in the binary: no build step, nothing to upload besides the function. Served with
//! a strict Content-Security-Policy whose `frame-ancestors` names the Kustomer origins allowed
//! to frame it (Kustomer's Cards SDK needs framing by the org's Kustomer domain: kustomer-api.md
//! "Apps: widgets and the Cards SDK").

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

const INDEX: &str = include_str!("../widget/index.html");
const SCRIPT: &str = include_str!("../widget/widget.js");
const STYLE: &str = include_str!("../widget/widget.css");
const TICKER: &str = include_str!("../widget/ticker.js");
const SIGNED_IN: &str = include_str!("../widget/signed-in.js");
const ICON: &str = include_str!("../widget/icon.svg");

/// Kustomer's Cards SDK (kustomer-api.md, H).
pub const CARDS_SDK_URL: &str = "https://cdn.kustomerapp.com/card-js/latest/kustomer-card.min.js";
/// Every org's Kustomer domain, when the tenant names none.
pub const KUSTOMER_ORIGINS: &str = "https://*.kustomerapp.com";

/// Read once at cold start: `KUSTOMER_APP_ORIGINS` (comma-separated origins allowed to frame
/// the widget), `KUSTOMER_CARDS_SDK_URL` (where the page loads the Cards SDK; tests point it at
/// a stand-in), `WIDGET_POLL_SECONDS` (how often the widget reads the agent's work session).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WidgetSettings {
    pub frame_ancestors: Vec<String>,
    pub sdk_url: String,
    pub poll_seconds: u32,
}

impl Default for WidgetSettings {
    fn default() -> Self {
        Self {
            frame_ancestors: vec![KUSTOMER_ORIGINS.into()],
            sdk_url: CARDS_SDK_URL.into(),
            poll_seconds: 10,
        }
    }
}

/// An origin as CSP takes it: scheme, host (a leading `*.` allowed), optional port; nothing
/// that could end the directive.
fn origin_ok(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.strip_prefix("*.").unwrap_or(rest);
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
}

impl WidgetSettings {
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut settings = Self::default();
        if let Some(origins) = get("KUSTOMER_APP_ORIGINS").filter(|v| !v.trim().is_empty()) {
            let origins: Vec<String> = origins
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect();
            if let Some(bad) = origins.iter().find(|o| !origin_ok(o)) {
                return Err(format!(
                    "KUSTOMER_APP_ORIGINS: {bad:?} is not an origin such as https://acme.kustomerapp.com"
                ));
            }
            settings.frame_ancestors = origins;
        }
        if let Some(url) = get("KUSTOMER_CARDS_SDK_URL").filter(|v| !v.trim().is_empty()) {
            let url = url.trim().to_owned();
            if sdk_origin(&url).is_none() {
                return Err(format!(
                    "KUSTOMER_CARDS_SDK_URL: {url:?} is not an http(s) URL"
                ));
            }
            settings.sdk_url = url;
        }
        if let Some(seconds) = get("WIDGET_POLL_SECONDS").filter(|v| !v.trim().is_empty()) {
            settings.poll_seconds = seconds
                .trim()
                .parse()
                .ok()
                .filter(|s| (1..=300).contains(s))
                .ok_or_else(|| {
                    format!("WIDGET_POLL_SECONDS: expected 1 to 300 seconds, got {seconds:?}")
                })?;
        }
        Ok(settings)
    }

    /// The page's policy: its own scripts and the Cards SDK, nothing inline, no plugins, no
    /// forms; framed only by Kustomer.
    pub fn content_security_policy(&self) -> String {
        let sdk = sdk_origin(&self.sdk_url).unwrap_or_default();
        format!(
            "default-src 'none'; script-src 'self' {sdk}; style-src 'self'; img-src 'self' data:; \
             connect-src 'self' {sdk}; worker-src 'self'; frame-ancestors {}; base-uri 'none'; \
             form-action 'none'",
            self.frame_ancestors.join(" ")
        )
    }
}

/// `scheme://host[:port]` of an http(s) URL made of safe characters.
fn sdk_origin(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || url.contains(['"', '<', '>', ' ', ';', '\''])
    {
        return None;
    }
    Some(parsed.origin().ascii_serialization())
}

/// Answers a widget path, `None` when it is not one.
pub fn serve(settings: &WidgetSettings, path: &str) -> Option<Response<Body>> {
    if path == "/widget" {
        // The page's own links are relative (the API's stage may stand in front of /widget/),
        // so it is served only from inside the folder. The relative location keeps the stage.
        return Response::builder()
            .status(StatusCode::PERMANENT_REDIRECT)
            .header("location", "widget/index.html")
            .header("cache-control", "no-cache")
            .body(Body::Empty)
            .ok();
    }
    let (body, content_type) = match path {
        "/widget/index.html" => (
            INDEX
                .replace("{{SDK_URL}}", &settings.sdk_url)
                .replace("{{POLL_SECONDS}}", &settings.poll_seconds.to_string()),
            "text/html; charset=utf-8",
        ),
        "/widget/widget.js" => (SCRIPT.to_owned(), "text/javascript; charset=utf-8"),
        "/widget/ticker.js" => (TICKER.to_owned(), "text/javascript; charset=utf-8"),
        "/widget/signed-in.js" => (SIGNED_IN.to_owned(), "text/javascript; charset=utf-8"),
        "/widget/widget.css" => (STYLE.to_owned(), "text/css; charset=utf-8"),
        "/widget/icon.svg" => (ICON.to_owned(), "image/svg+xml"),
        _ => return None,
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .header(
            "content-security-policy",
            settings.content_security_policy(),
        )
        .header("x-content-type-options", "nosniff")
        .header("referrer-policy", "no-referrer")
        .header("cache-control", "no-cache")
        .body(Body::Text(body))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn r_a_1_the_bare_folder_redirects_inside_it_so_the_pages_relative_links_keep_the_stage() {
        let settings = WidgetSettings::default();
        let answer = serve(&settings, "/widget").unwrap();
        assert_eq!(answer.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(answer.headers()["location"], "widget/index.html");
        let page = serve(&settings, "/widget/index.html").unwrap();
        let Body::Text(html) = page.body() else {
            panic!("the page is text")
        };
        assert!(
            html.contains(r#"href="widget.css""#) && !html.contains(r#""/widget/"#),
            "links relative to the page: {html}"
        );
    }

    #[test]
    fn r_a_1_the_policy_limits_framing_to_kustomer_and_scripts_to_the_page_and_the_sdk() {
        let settings = WidgetSettings::from_env(env(&[(
            "KUSTOMER_APP_ORIGINS",
            "https://acme.kustomerapp.com/, https://acme-eu.kustomerapp.com",
        )]))
        .unwrap_or_default();
        let policy = settings.content_security_policy();
        assert!(policy.contains(
            "frame-ancestors https://acme.kustomerapp.com https://acme-eu.kustomerapp.com;"
        ));
        assert!(policy.contains("script-src 'self' https://cdn.kustomerapp.com;"));
        assert!(!policy.contains("unsafe"));
        assert_eq!(
            WidgetSettings::default().frame_ancestors,
            ["https://*.kustomerapp.com"]
        );
        for bad in ["acme.kustomerapp.com", "https://a.com; script-src *", "*"] {
            assert!(
                WidgetSettings::from_env(env(&[("KUSTOMER_APP_ORIGINS", bad)])).is_err(),
                "{bad}"
            );
        }
        assert!(
            WidgetSettings::from_env(env(&[("KUSTOMER_CARDS_SDK_URL", "javascript:alert(1)")]))
                .is_err()
        );
        assert!(WidgetSettings::from_env(env(&[("WIDGET_POLL_SECONDS", "0")])).is_err());
    }

    #[test]
    fn the_page_names_the_sdk_and_no_token() {
        let page = serve(&WidgetSettings::default(), "/widget/index.html").unwrap_or_default();
        let Body::Text(html) = page.body() else {
            panic!("text expected")
        };
        assert!(html.contains(CARDS_SDK_URL));
        assert!(!html.contains("{{"));
        assert!(!html.to_lowercase().contains("token"));
        assert!(html.contains("id=\"sign-in\""));
        assert!(serve(&WidgetSettings::default(), "/widget/../secrets").is_none());
    }
}
