//! The parsers that read what the world sends, each as one call on raw bytes, for the
//! `cargo fuzz` harnesses in `fuzz/` (`scripts/fuzz.sh`). Each entry returns normally for
//! any input; a panic, a hang or an allocation blowup is a finding. Checks that must hold for
//! every input (not just "no crash") are asserted here, so the fuzzer finds their violations.
use serde_json::Value;
use std::path::Path;

/// A REST job body (`POST /api/jobs`, one element of `/api/jobs/batch`), and, when it is a
/// delegated subscription, its EIP-712 request.
pub fn rest_job_body(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(crate::api::request::Parsed::Delegated(body)) = crate::api::request::parse_job(v) {
        let _ = crate::chain::delegated::parse(&body);
    }
}

/// A control-plane chat body (`/api/chat`) and the node specs a registration uploads.
pub fn control_plane_body(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _ = crate::control::server::chat::parse_chat(&v);
    let clean = crate::control::specs::sanitize(&v);
    // Sanitising is idempotent: what it keeps passes through unchanged.
    assert_eq!(crate::control::specs::sanitize(&clean), clean);
    let _ = crate::control::specs::concurrency_cap(&clean);
}

/// A config file's text, then validation.
pub fn config_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.json");
    if let Ok((mut cfg, _)) = crate::config::parse_str(text, path) {
        let _ = crate::config::validate::validate(&mut cfg, path);
    }
}

/// One line on the daemon's socket, and an `intent` payload as the daemon reads it.
pub fn ipc_line(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(req) = crate::daemon::ipc::parse(line) {
        let _ = serde_json::from_value::<infernet_core::view::intent::Intent>(req.payload);
    }
    let _ = crate::daemon::ipc::reply_data(line);
}

/// `X-Infernet-Auth`: the first byte picks the case.
/// - even: an arbitrary header (the second byte splits header from body), checked at a fixed
///   time; only a real signature may pass, and what passes is well formed.
/// - odd: the rest is a body, signed correctly, then one byte of it (chosen by the second
///   byte) is changed: the untouched request must verify, the changed one must not.
pub fn signed_envelope(data: &[u8]) {
    use crate::control::auth;
    let [mode, pick, rest @ ..] = data else {
        return;
    };
    let (method, path, now) = ("POST", "/api/v1/node/jobs/poll", 1_700_000_000);
    if mode % 2 == 0 {
        let at = usize::from(*pick).min(rest.len());
        let (header, body) = rest.split_at(at);
        let header = String::from_utf8_lossy(header);
        if let Ok(v) = auth::verify(Some(&header), method, path, body, now) {
            assert_eq!(v.pubkey.len(), 64);
            assert_eq!(v.nonce.len(), 32);
        }
        return;
    }
    let secret = [7u8; 32];
    let nonce = "00112233445566778899aabbccddeeff";
    let Ok(header) = auth::sign_with(&secret, method, path, rest, now, nonce, &[1; 32]) else {
        panic!("signing with a valid key failed");
    };
    assert!(
        auth::verify(Some(&header), method, path, rest, now).is_ok(),
        "a correctly signed request was refused"
    );
    if rest.is_empty() {
        return;
    }
    let mut changed = rest.to_vec();
    let i = usize::from(*pick) % changed.len();
    changed[i] ^= 0x01;
    assert!(
        auth::verify(Some(&header), method, path, &changed, now).is_err(),
        "a request whose body changed after signing was accepted"
    );
}

/// A backend's streamed answer (Ollama NDJSON and OpenAI-style SSE), cut into chunks at
/// fuzzer-chosen places: the lines must not depend on where the chunks were cut.
pub fn backend_stream(data: &[u8]) {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut).max(1);
    let mut whole = crate::backend::sse::Lines::default();
    let mut expected = whole.push(stream);
    expected.extend(whole.finish());
    let mut pieces = crate::backend::sse::Lines::default();
    let mut got = Vec::new();
    for chunk in stream.chunks(step) {
        got.extend(pieces.push(chunk));
    }
    got.extend(pieces.finish());
    assert_eq!(got, expected, "lines depend on chunk borders (step {step})");
    for line in &expected {
        let _ = crate::backend::ollama::parse_line(line);
        let _ = crate::backend::openai::parse_line(line);
        let _ = crate::backend::parse_pull_line(line);
    }
}
