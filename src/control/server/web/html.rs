//! Server-rendered HTML: escaping, the page shell (inline CSS, a few lines of script that swap
//! in what the page's SSE stream sends), cards and tables. No JS build step.

/// Text made safe for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#0f1419;color:#e6e6e6}
header{padding:14px 28px;background:#151c24;border-bottom:1px solid #243040;display:flex;gap:24px;align-items:baseline}
header h1{font-size:18px;margin:0;color:#7fd1b9}
header a{color:#9fb3c8;text-decoration:none;font-size:14px}
main{padding:20px 28px;max-width:1200px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:14px;margin-bottom:22px}
.card{background:#151c24;border:1px solid #243040;border-radius:8px;padding:14px 16px}
.card .label{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:#9fb3c8}
.card .value{font-size:28px;font-weight:600;margin:6px 0;color:#fff}
.card .note{font-size:13px;color:#9fb3c8}
.empty{color:#c9a86a}
code{background:#0b0f14;border:1px solid #243040;border-radius:4px;padding:1px 5px;font-size:12px}
h2{font-size:15px;color:#9fb3c8;margin:22px 0 8px}
table{border-collapse:collapse;width:100%;font-size:13px;background:#151c24;border:1px solid #243040}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #243040}
th{color:#9fb3c8;font-weight:500}
.ok{color:#7fd1b9}.bad{color:#ff7b72}.warn{color:#c9a86a}
.bar{display:inline-block;width:90px;height:8px;background:#243040;border-radius:4px;vertical-align:middle}
.bar span{display:block;height:8px;background:#7fd1b9;border-radius:4px}
footer{padding:10px 28px;color:#5c6b7a;font-size:12px}
";

/// A whole page: `live` is the part the SSE stream at `events` replaces.
pub fn page(title: &str, nav: &str, live: &str, events: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{t}</title><style>{STYLE}</style></head>\
<body><header><h1>infernet · {t}</h1>{nav}</header><main id=\"live\">{live}</main>\
<footer id=\"conn\">live</footer>\
<script>const es=new EventSource({ev});const c=document.getElementById('conn');\
es.addEventListener('update',e=>{{document.getElementById('live').innerHTML=e.data;c.textContent='live · updated '+new Date().toLocaleTimeString()}});\
es.onerror=()=>{{c.textContent='reconnecting…'}};</script></body></html>",
        t = esc(title),
        ev = js_string(events),
    )
}

/// A JSON string literal, safe inside a `<script>`.
fn js_string(s: &str) -> String {
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('<', "\\u003c")
}

/// A card: a label, a value, and a note; an empty card's note says what fills it.
pub fn card(label: &str, value: &str, note: &str, empty: bool) -> String {
    let class = if empty { "note empty" } else { "note" };
    format!(
        "<div class=\"card\"><div class=\"label\">{}</div><div class=\"value\">{}</div><div class=\"{class}\">{note}</div></div>",
        esc(label),
        esc(value)
    )
}

/// A table with escaped cells; `cells` are already HTML (callers escape text with `esc`).
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let th: String = head
        .iter()
        .map(|h| format!("<th>{}</th>", esc(h)))
        .collect();
    let tr: String = rows
        .iter()
        .map(|r| {
            let td: String = r.iter().map(|c| format!("<td>{c}</td>")).collect();
            format!("<tr>{td}</tr>")
        })
        .collect();
    format!("<table><thead><tr>{th}</tr></thead><tbody>{tr}</tbody></table>")
}

/// A sentence naming the command that fills an empty section.
pub fn empty(what: &str, command: &str) -> String {
    format!(
        "<p class=\"empty\">{} <code>{}</code></p>",
        esc(what),
        esc(command)
    )
}

/// "12 s ago", "3 min ago", "2 h ago".
pub fn ago(ms: i64, now: i64) -> String {
    let s = ((now - ms) / 1000).max(0);
    match s {
        0..60 => format!("{s} s ago"),
        60..3600 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_everywhere_it_goes() {
        assert_eq!(esc("<b a=\"1\">&'"), "&lt;b a=&quot;1&quot;&gt;&amp;&#39;");
        let c = card("<x>", "1", "n", true);
        assert!(c.contains("&lt;x&gt;") && c.contains("note empty"), "{c}");
        let t = table(&["a<"], &[vec![esc("<script>")]]);
        assert!(
            t.contains("<th>a&lt;</th>") && t.contains("&lt;script&gt;"),
            "{t}"
        );
        // The events URL cannot close the script.
        let p = page("t", "", "", "/x</script>");
        assert!(!p.contains("/x</script>"), "{p}");
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(ago(0, 12_000), "12 s ago");
        assert_eq!(ago(0, 180_000), "3 min ago");
        assert_eq!(ago(0, 7_200_000), "2 h ago");
        assert_eq!(ago(5_000, 0), "0 s ago");
    }
}
