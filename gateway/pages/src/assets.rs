//! The stylesheet, the script and the Persian font, compiled into the gateway: nothing is
//! fetched from elsewhere, and `make run` needs no Node build step.

use actix_web::web::Path;
use actix_web::{HttpResponse, get};

use crate::error::PageError;

/// An asset: its name in `/assets/`, its media type and its bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "clubgate.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/clubgate.css"),
    ),
    (
        "clubgate.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/clubgate.js"),
    ),
    // Vazirmatn 33.0.3 (variable weight, Persian and Latin; SIL Open Font License 1.1).
    (
        "vazirmatn.woff2",
        "font/woff2",
        include_bytes!("../assets/vazirmatn.woff2"),
    ),
];

/// Serves an asset; they change only with the gateway, so browsers may keep them for a day.
#[get("/assets/{name}")]
pub(crate) async fn serve(
    name: Path<String>,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, PageError> {
    let (_, media_type, bytes) = ASSETS
        .iter()
        .find(|(known, _, _)| *known == name.as_str())
        .ok_or_else(|| PageError::not_found(&req))?;
    Ok(HttpResponse::Ok()
        .content_type(*media_type)
        .insert_header(("cache-control", "public, max-age=86400"))
        .body(*bytes))
}
