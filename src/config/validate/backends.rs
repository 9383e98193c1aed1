//! `backends[]`: LLM servers, whose ids share the containers' namespace.
use super::{Ctx, Ids, is_http_url};
use crate::config::{BackendConfig, Error};
use crate::config::{BackendKind, normalise_url};

pub(super) fn check(backends: &[BackendConfig], cx: &Ctx, ids: &mut Ids) -> Result<(), Error> {
    for (i, b) in backends.iter().enumerate() {
        let at = format!("backends[{i}]");
        let id_key = format!("{at}.id");
        if b.id.trim().is_empty() || b.id.contains(',') {
            return Err(cx.err(
                id_key,
                format!("'{}' must be a non-empty id without ','", b.id),
            ));
        }
        if let Some(other) = ids.insert(b.id.clone(), id_key.clone()) {
            return Err(cx.err(id_key, format!("duplicate id '{}' (also {other})", b.id)));
        }
        if BackendKind::parse(&b.kind).is_none() {
            return Err(cx.err(
                format!("{at}.kind"),
                format!(
                    "'{}' is not a backend kind (ollama, vllm, sglang, llamacpp, max, openai, engine, embedded, stub)",
                    b.kind
                ),
            ));
        }
        // An engine backend's `url` names a program, not a server.
        let is_engine =
            b.kind.eq_ignore_ascii_case("engine") || b.kind.eq_ignore_ascii_case("mojo");
        if !is_engine && !b.url.is_empty() && !is_http_url(&normalise_url(&b.url)) {
            return Err(cx.err(
                format!("{at}.url"),
                format!("'{}' is not an http(s) URL", b.url),
            ));
        }
        cx.nets(&format!("{at}.allowed_ips"), &b.allowed_ips)?;
    }
    Ok(())
}
