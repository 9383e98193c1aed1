//! `GET /openapi.json`: exactly the routes and shapes this node serves.
use axum::Json;
use serde_json::{Value, json};

pub async fn serve() -> Json<Value> {
    Json(spec())
}

fn err_ref() -> Value {
    json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn json_of(schema: Value) -> Value {
    json!({"content": {"application/json": {"schema": schema}}})
}

pub fn spec() -> Value {
    let e = err_ref();
    json!({
      "openapi": "3.0.3",
      "info": {
        "title": "infernet node REST API",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Wire-compatible with Ritual's Infernet Node 1.4 REST API. Every limited route answers with RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers; 429 adds Retry-After."
      },
      "paths": {
        "/health": {"get": {"summary": "Liveness", "responses": {
          "200": json_of(json!({"type": "object", "properties": {"status": {"type": "string", "enum": ["healthy"]}}})),
          "429": e}}},
        "/info": {"get": {"summary": "Version, running containers, pending jobs, chain", "responses": {
          "200": json_of(json!({"$ref": "#/components/schemas/Info"})), "429": e}}},
        "/resources": {"get": {"summary": "Each container's /service-resources (failures omitted)",
          "parameters": [{"name": "model_id", "in": "query", "required": false, "schema": {"type": "string"}}],
          "responses": {"200": json_of(json!({"type": "object", "additionalProperties": {}})), "429": e}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": json_of(json!({"type": "object"}))}}},
        "/api/jobs": {
          "post": {"summary": "Create an off-chain job, or submit a delegated (signed) subscription (checked before answering; its first interval runs as job `id`)",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"oneOf": [
              {"$ref": "#/components/schemas/JobRequest"}, {"$ref": "#/components/schemas/DelegatedSubscriptionRequest"}]}}}},
            "responses": {
              "200": json_of(json!({"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"},
                "subscription_id": {"type": "integer", "description": "delegated: the on-chain id when the subscription exists already"}}})),
              "400": e, "403": e, "408": e, "413": e, "415": e, "429": e, "503": e}},
          "get": {"summary": "List this client's job ids, or fetch results by id (scoped to the caller)",
            "parameters": [
              {"name": "id", "in": "query", "required": false, "schema": {"type": "array", "items": {"type": "string"}}, "style": "form", "explode": true},
              // As Ritual's node reads them: "true" is true, any other value false.
              {"name": "intermediate", "in": "query", "required": false, "schema": {"type": "string"}, "description": "\"true\": include intermediate results; any other value: no"},
              {"name": "pending", "in": "query", "required": false, "schema": {"type": "string"}, "description": "\"true\": pending jobs only; \"false\": finished ones only; absent or any other value: all"}
            ],
            "responses": {
              // anyOf: `[]` is both an empty id list and an empty result list.
              "200": json_of(json!({"anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "array", "items": {"$ref": "#/components/schemas/JobResult"}}]})),
              "400": e, "413": e, "429": e}}
        },
        "/api/jobs/batch": {"post": {"summary": "Create several jobs; each element succeeds or fails on its own",
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "array", "items": {"oneOf": [
            {"$ref": "#/components/schemas/JobRequest"}, {"$ref": "#/components/schemas/DelegatedSubscriptionRequest"}]}}}}},
          "responses": {
            "200": json_of(json!({"type": "array", "items": {"anyOf": [
              {"type": "object", "properties": {"id": {"type": "string"}, "subscription_id": {"type": "integer"}}},
              {"$ref": "#/components/schemas/Error"}]}})),
            "400": e, "408": e, "413": e, "415": e, "429": e}}},
        "/api/jobs/stream": {"post": {"summary": "Streaming job: first line is the job id, then the last container's bytes as they arrive",
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobRequest"}}}},
          "responses": {
            "200": {"description": "job id line, then raw bytes", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            "400": e, "403": e, "408": e, "413": e, "415": e, "429": e, "503": e}}},
        "/api/status": {"put": {"summary": "Job status reported by an independent container (loopback and server.status_allowed_ips only; not rate limited)",
          "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobStatusReport"}}}},
          "responses": {"200": json_of(json!({"type": "object"})), "400": e, "403": e, "408": e, "413": e, "415": e}}}
      },
      "components": {"schemas": {
        "Error": {"type": "object", "properties": {"error": {"type": "string"}, "params": {"type": "object"}}, "required": ["error", "params"]},
        "JobRequest": {"type": "object", "required": ["containers", "data"], "properties": {
          "containers": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
          "data": {"type": "object"},
          "requires_proof": {"type": "boolean", "default": false}}},
        "DelegatedSubscriptionRequest": {"type": "object", "required": ["subscription", "signature"], "properties": {
          "subscription": {"type": "object", "required": ["owner", "active_at", "period", "frequency", "redundancy", "containers"], "properties": {
            "owner": {"type": "string", "description": "consumer contract (a Delegator)"},
            "active_at": {"type": "integer"}, "period": {"type": "integer"}, "frequency": {"type": "integer"},
            "redundancy": {"type": "integer"},
            "containers": {"type": "string", "description": "keccak256(abi.encode(string \"id1,id2\")) in hex, 0x optional"},
            "lazy": {"type": "boolean"}, "verifier": {"type": "string"},
            "payment_amount": {"description": "uint256: a JSON integer of any size, or a decimal/0x string"},
            "payment_token": {"type": "string"}, "wallet": {"type": "string"}}},
          "signature": {"type": "object", "required": ["nonce", "expiry", "v", "r", "s"], "properties": {
            "nonce": {"type": "integer"}, "expiry": {"type": "integer"}, "v": {"type": "integer", "description": "27 or 28 (0/1 accepted)"},
            "r": {"description": "uint256 (JSON integer or string)"}, "s": {"description": "uint256 (JSON integer or string)"}}},
          "data": {"type": "object", "description": "input of the first container for the first interval"}}},
        "ContainerResult": {"oneOf": [
          {"type": "object", "properties": {"container": {"type": "string"}, "output": {}}, "required": ["container", "output"]},
          {"type": "object", "properties": {"container": {"type": "string"}, "error": {"type": "string"}}, "required": ["container", "error"]}]},
        "JobResult": {"type": "object", "required": ["id", "status", "result"], "properties": {
          "id": {"type": "string"},
          "status": {"type": "string", "enum": ["running", "success", "failed"]},
          "result": {"nullable": true, "allOf": [{"$ref": "#/components/schemas/ContainerResult"}]},
          "intermediate_results": {"type": "array", "items": {"$ref": "#/components/schemas/ContainerResult"}}}},
        "JobStatusReport": {"type": "object", "required": ["id", "status", "containers"], "properties": {
          "id": {"type": "string", "minLength": 1},
          "status": {"type": "string", "enum": ["running", "success", "failed"]},
          "containers": {"type": "array", "items": {"type": "string"}},
          "data": {}}},
        "Info": {"type": "object", "properties": {
          "version": {"type": "string"},
          "containers": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "description": {"type": "string"}, "external": {"type": "boolean"}, "image": {"type": "string"}}}},
          "pending": {"type": "object", "properties": {"offchain": {"type": "integer"}, "onchain": {"type": "integer"}}},
          "chain": {"type": "object", "properties": {"enabled": {"type": "boolean"}, "address": {"type": "string"}}},
          "container_status": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"},
            "state": {"type": "string", "enum": ["starting", "ready", "restarting", "unavailable", "stopped"]},
            "reason": {"type": "string", "nullable": true},
            "image": {"type": "string"}, "port": {"type": "integer"}, "managed": {"type": "boolean"},
            "restarts": {"type": "integer"}, "description": {"type": "string"}, "external": {"type": "boolean"}}}}}}
      }}
    })
}
