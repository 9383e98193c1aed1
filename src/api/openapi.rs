//! `GET /openapi.json`, derived from the handlers' `#[utoipa::path]` and the wire types: the
//! router and this document are built from one route list (`super::routes`).
use axum::Json;
use axum::http::Method;
use std::collections::BTreeSet;
use std::sync::LazyLock;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};

#[derive(OpenApi)]
#[openapi(info(
    title = "infernet node REST API",
    description = "Wire-compatible with Ritual's Infernet Node 1.4 REST API. Every limited route answers with RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers; 429 adds Retry-After."
))]
pub struct ApiDoc;

static DOC: LazyLock<utoipa::openapi::OpenApi> =
    LazyLock::new(|| super::routes().split_for_parts().1);

pub fn spec() -> &'static utoipa::openapi::OpenApi {
    &DOC
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    summary = "This document",
    responses((status = 200, description = "OpenAPI document", body = Object))
)]
pub async fn serve() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(spec())
}

fn methods(item: &PathItem) -> impl Iterator<Item = Method> + '_ {
    let fixed: [(Method, &Option<Operation>); 8] = [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::OPTIONS, &item.options),
        (Method::HEAD, &item.head),
        (Method::PATCH, &item.patch),
        (Method::TRACE, &item.trace),
    ];
    fixed
        .into_iter()
        .filter_map(|(m, op)| op.as_ref().map(|_| m))
        .chain(
            item.additional_operations
                .keys()
                .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok()),
        )
}

/// Every documented operation as `METHOD /path`, sorted.
pub fn operations() -> &'static BTreeSet<String> {
    static OPS: LazyLock<BTreeSet<String>> = LazyLock::new(|| {
        spec()
            .paths
            .paths
            .iter()
            .flat_map(|(path, item)| methods(item).map(move |m| format!("{m} {path}")))
            .collect()
    });
    &OPS
}

/// The rate limiter's bucket name: one per documented operation, `other` for the rest (a
/// bounded set whatever a client sends).
pub fn route_key(method: &Method, path: &str) -> &'static str {
    operations()
        .get(&format!("{method} {path}"))
        .map_or("other", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn doc() -> Value {
        serde_json::to_value(spec()).unwrap()
    }

    #[test]
    fn every_route_is_documented_once_with_its_response_codes() {
        // What the hand-written document listed (plus /health's 503), per operation.
        let want: [(&str, &[&str]); 12] = [
            ("GET /health", &["200", "429", "503"]),
            ("GET /info", &["200", "429"]),
            ("GET /resources", &["200", "429"]),
            ("GET /metrics", &["200", "429"]),
            ("GET /openapi.json", &["200"]),
            (
                "POST /api/jobs",
                &["200", "400", "403", "408", "413", "415", "429", "503"],
            ),
            ("GET /api/jobs", &["200", "400", "413", "429"]),
            ("GET /api/p2p/peers", &["200", "429", "503"]),
            (
                "POST /api/p2p/chat",
                &["200", "400", "408", "413", "415", "429", "503"],
            ),
            (
                "POST /api/jobs/batch",
                &["200", "400", "408", "413", "415", "429"],
            ),
            (
                "POST /api/jobs/stream",
                &["200", "400", "403", "408", "413", "415", "429", "503"],
            ),
            (
                "PUT /api/status",
                &["200", "400", "403", "408", "413", "415"],
            ),
        ];
        let ops: Vec<&str> = operations().iter().map(String::as_str).collect();
        let mut expected: Vec<&str> = want.iter().map(|(op, _)| *op).collect();
        expected.sort();
        assert_eq!(ops, expected);
        let d = doc();
        for (op, codes) in want {
            let (method, path) = op.split_once(' ').unwrap();
            let o = &d["paths"][path][method.to_ascii_lowercase()];
            assert!(o["summary"].as_str().is_some_and(|s| !s.is_empty()), "{op}");
            let got: Vec<&str> = o["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(got, codes, "{op}");
        }
    }

    #[test]
    fn route_keys_are_the_documented_operations_and_nothing_else() {
        assert_eq!(route_key(&Method::POST, "/api/jobs"), "POST /api/jobs");
        assert_eq!(route_key(&Method::GET, "/api/jobs"), "GET /api/jobs");
        assert_eq!(route_key(&Method::DELETE, "/api/jobs"), "other");
        assert_eq!(route_key(&Method::GET, "/nope"), "other");
    }

    #[test]
    fn the_document_keeps_what_schemathesis_relies_on() {
        let d = doc();
        assert!(
            d["info"]["description"]
                .as_str()
                .unwrap()
                .contains("RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset")
        );
        let s = &d["components"]["schemas"];
        // anyOf, not oneOf: `[]` is both an empty id list and an empty result list.
        assert_eq!(s["JobsReply"]["anyOf"].as_array().unwrap().len(), 2);
        // anyOf: an error body is also an object without `id` / `subscription_id`.
        assert_eq!(
            s["BatchItem"]["anyOf"][1],
            json!({"$ref": "#/components/schemas/Error"})
        );
        assert_eq!(
            s["JobBody"]["oneOf"],
            json!([{"$ref": "#/components/schemas/JobRequest"},
                   {"$ref": "#/components/schemas/DelegatedSubscriptionRequest"}])
        );
        assert_eq!(s["JobRequest"]["required"], json!(["containers", "data"]));
        assert_eq!(s["JobRequest"]["properties"]["containers"]["minItems"], 1);
        assert_eq!(
            s["JobResult"]["required"],
            json!(["id", "status", "result"])
        );
        assert_eq!(
            s["JobResult"]["properties"]["status"]["enum"],
            json!(["running", "success", "failed"])
        );
        assert_eq!(s["Error"]["required"], json!(["error", "params"]));
        // Arbitrary-size integers: no type, so a JSON integer of any size or a string fits.
        let sig = &s["DelegatedSubscriptionRequest"]["properties"]["signature"]["properties"];
        assert!(sig["r"].get("type").is_none(), "{sig}");
        let stream = &d["paths"]["/api/jobs/stream"]["post"]["responses"]["200"]["content"];
        assert_eq!(
            stream["application/octet-stream"]["schema"],
            json!({"type": "string", "format": "binary"})
        );
    }
}
