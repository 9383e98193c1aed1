//! Secrets scrubbed from every text that leaves the process: log lines, error texts in `/info`
//! and `status`, job results, `config check`, `debug`. The list is process-wide and filled when
//! a config is loaded: the RPC URL's credentials (password in the userinfo, key-like path
//! segments and query values), every configured key, password and bearer, and secret-looking
//! container env values. Texts built from errors (which quote URLs) pass through [`scrub`].
use super::Config;
use std::borrow::Cow;
use std::sync::RwLock;

pub const HIDDEN: &str = "<redacted>";

/// (secret, what replaces it), longest first so a URL goes before its parts.
static SECRETS: RwLock<Vec<(String, String)>> = RwLock::new(Vec::new());

/// Shortest value treated as a secret (shorter ones would scrub ordinary words).
const MIN_LEN: usize = 6;

fn add(pairs: &mut Vec<(String, String)>, secret: &str, shown: &str) {
    if secret.len() >= MIN_LEN && !pairs.iter().any(|(s, _)| s == secret) {
        pairs.push((secret.to_string(), shown.to_string()));
    }
}

/// Registers a secret value: it is replaced by `<redacted>` wherever it appears.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if let Ok(mut g) = SECRETS.write() {
        add(&mut g, secret, HIDDEN);
        g.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
    }
}

/// Registers a URL whose credentials must not show: the URL itself (shown redacted), its
/// password, and its path segments and query values that look like keys.
pub fn register_url(url: &str) {
    let url = url.trim();
    let Some((_, rest)) = url.split_once("://") else {
        return;
    };
    let shown = redact_url(url);
    if shown == url {
        return;
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if let Ok(mut g) = SECRETS.write() {
        add(&mut g, url, &shown);
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
        {
            add(&mut g, password, HIDDEN);
        }
        for part in path.split(['/', '?', '&', '=', '#']) {
            if key_like(part) {
                add(&mut g, part, HIDDEN);
            }
        }
        g.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
    }
}

/// A path segment or query value that looks like an API key: long, with digits or mixed case,
/// not a plain word or version (`v2`, `rpc`, `mainnet`).
fn key_like(s: &str) -> bool {
    s.len() >= 16
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && s.chars().any(|c| c.is_ascii_digit())
}

/// The URL as it may be shown: `scheme://user:<redacted>@host/<redacted>` (the password, and
/// the path and query when they hold anything key-like, are hidden).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:{HIDDEN}@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let secret_path = path.split(['/', '?', '&', '=', '#']).any(key_like);
    let path = if secret_path {
        format!("/{HIDDEN}")
    } else {
        path.to_string()
    };
    format!("{scheme}://{authority}{path}")
}

/// Registers every secret a config holds.
pub fn register_config(c: &Config) {
    if let Some(u) = &c.chain.rpc_url {
        register_url(u);
    }
    register_url(&c.control_plane.url);
    for u in &c.control_plane.urls {
        register_url(u);
    }
    if let Some(k) = &c.chain.wallet.private_key {
        register(k.expose());
        register(k.expose().trim_start_matches("0x"));
    }
    if let Some(d) = &c.docker {
        register(d.password.expose());
    }
    for b in &c.backends {
        register_url(&b.url);
        register(b.api_key.expose());
        // The key may come from the environment: `api_key_env`, else the kind's variable.
        let kind_var = crate::config::BackendKind::parse(&b.kind).and_then(|k| k.env_vars().1);
        for var in [Some(b.api_key_env.as_str()), kind_var] {
            if let Some(var) = var.filter(|v| !v.is_empty())
                && let Ok(v) = std::env::var(var)
            {
                register(&v);
            }
        }
    }
    for ct in &c.containers {
        register(ct.bearer.expose());
        register_url(&ct.url);
        for (k, v) in &ct.env {
            if super::redact::secretish(k) {
                register(v);
            }
        }
    }
}

/// `text` with every registered secret replaced.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let Ok(g) = SECRETS.read() else {
        return Cow::Borrowed(text);
    };
    let mut out = Cow::Borrowed(text);
    for (secret, shown) in g.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), shown));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_passwords_and_path_keys() {
        assert_eq!(
            redact_url("http://user:PASS@host:8545/v2/abcDEF1234567890xyz"),
            "http://user:<redacted>@host:8545/<redacted>"
        );
        assert_eq!(
            redact_url("https://rpc.example/?apikey=Zz9yy8xx7ww6vv5uu4"),
            "https://rpc.example/<redacted>"
        );
        assert_eq!(redact_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(redact_url("ws://host/v2/rpc"), "ws://host/v2/rpc");
    }

    #[test]
    fn registered_secrets_are_scrubbed_everywhere_in_a_text() {
        let url = "http://alice:hunter2secret@10.9.8.7:8545/v3/0123456789abcdefKEY";
        register_url(url);
        let text = format!(
            "error sending request for url ({url}): refused; password hunter2secret; key 0123456789abcdefKEY"
        );
        let s = scrub(&text);
        assert!(!s.contains("hunter2secret"), "{s}");
        assert!(!s.contains("0123456789abcdefKEY"), "{s}");
        assert!(
            s.contains("http://alice:<redacted>@10.9.8.7:8545/<redacted>"),
            "{s}"
        );
        register("sk-live-abcdef");
        assert_eq!(scrub("key=sk-live-abcdef!"), "key=<redacted>!");
        assert_eq!(scrub("nothing here"), "nothing here");
    }
}
