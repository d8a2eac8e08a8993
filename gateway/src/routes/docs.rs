//! The API reference page, `GET /docs`: Redoc renders the served `/openapi.json` in the browser.
//! Everything the page loads comes from the gateway itself (the renderer is compiled into the
//! binary, see `gateway/assets/redoc/README.md`), so it works offline and in a cluster that
//! reaches nothing outside. Like `/openapi.json`, it needs no token and has no rate limit.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;

/// Redoc's version, in the script's path: a new version is a new URL, so the script can be
/// cached for good.
macro_rules! redoc_version {
    () => {
        "2.5.4"
    };
}

/// The renderer's version embedded in this binary.
pub const REDOC_VERSION: &str = redoc_version!();

/// Where the renderer's script is served.
pub const SCRIPT_PATH: &str = concat!("/docs/redoc-", redoc_version!(), ".standalone.js");

/// Redoc's standalone bundle, as published on npm (`package/bundles/redoc.standalone.js`).
static SCRIPT: &[u8] = include_bytes!("../../assets/redoc/redoc.standalone.js");

/// The page: Redoc reads `spec-url` when its script loads. Both URLs are relative to `/docs`, so
/// the page also works behind a proxy that serves the gateway under a path prefix.
const PAGE: &str = concat!(
    r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wellbeing API reference</title>
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<redoc spec-url="openapi.json"></redoc>
<script src="docs/redoc-"#,
    redoc_version!(),
    r#".standalone.js"></script>
</body>
</html>
"#
);

/// Only the gateway's own scripts and data. Redoc needs two allowances, both seen refused in
/// Chromium without them: inline styles (styled-components writes `<style>` elements at run time;
/// scripts stay `'self'` only) and a worker it makes from a `blob:` URL (its search index).
/// `data:` images are its inline icons. Its footer's logo, from Redoc's CDN, is refused on
/// purpose: the page asks nothing of the outside world.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Headers both answers carry: no content sniffing, no referrer sent from the page.
fn common_headers() -> [(HeaderName, HeaderValue); 2] {
    [
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ]
}

#[utoipa::path(
    get,
    path = "/docs",
    tag = "operations",
    summary = "The API reference page (HTML), rendered from this document",
    description = "Redoc, served by the gateway itself (no third-party requests): open it in a \
        browser.",
    security(),
    responses((status = 200, description = "The page", content((String = "text/html")))),
)]
pub async fn page() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            // Small, and it names the script's version: always revalidated.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        common_headers(),
        PAGE,
    )
}

#[utoipa::path(
    get,
    path = SCRIPT_PATH,
    tag = "operations",
    summary = "The API reference page's renderer (Redoc's script)",
    security(),
    responses((status = 200, description = "JavaScript", content((String = "text/javascript")))),
)]
pub async fn script() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            ),
            // The path names the version: the bytes behind it never change.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        common_headers(),
        SCRIPT,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_the_embedded_version() {
        assert!(PAGE.contains(SCRIPT_PATH.trim_start_matches('/')), "{PAGE}");
        // The bundle shows its version on the page it renders.
        let shown = format!("\" ReDoc Version: \",\"{REDOC_VERSION}\"");
        assert!(
            SCRIPT
                .windows(shown.len())
                .any(|window| window == shown.as_bytes()),
            "the embedded bundle is not Redoc {REDOC_VERSION}"
        );
        let fetch = include_str!("../../assets/redoc/fetch.sh");
        assert!(
            fetch.contains(&format!("VERSION={REDOC_VERSION}\n")),
            "fetch.sh pins another version"
        );
    }
}
