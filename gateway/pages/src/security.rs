//! The headers every page and asset carries: a Content-Security-Policy that allows scripts,
//! styles and fonts from the gateway alone (no inline script or style anywhere), no framing, no
//! sniffing, no referrer leaving the site, and no caching of pages that show personal data.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _};

use crate::error::Failure;

/// Marks a request as a page's (or an asset's): the partner API's receipt signer leaves it be.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest;

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers to the response of a page or asset.
pub(crate) async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    req.extensions_mut().insert(PageRequest);
    let response = next.call(req).await?;
    // A failure is rendered here, where the request (and so its language) is known.
    let failure = response.response().extensions().get::<Failure>().cloned();
    let page = failure.and_then(|failure| crate::error::render(response.request(), &failure));
    let mut response = match page {
        Some(page) => response.map_body(|head, _| {
            head.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            BoxBody::new(page)
        }),
        None => response.map_into_boxed_body(),
    };
    let is_asset = response.request().path().starts_with("/assets/");
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CROSS_ORIGIN_OPENER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}
