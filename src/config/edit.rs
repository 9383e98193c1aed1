//! Targeted edits of `config.json` that keep every other key, and the key order, as they were.
use super::Error;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Read {
        path: path.to_path_buf(),
        source: e,
    }
}

fn read(path: &Path) -> Result<Value, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| Error::Syntax {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(json!({})),
        Err(e) => Err(io(path, e)),
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves half a config.
fn write(path: &Path, v: &Value) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    let indent = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| indent_of(&t))
        .unwrap_or_else(|| "  ".into());
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(v, &mut ser).map_err(|e| Error::Key {
        path: path.to_path_buf(),
        key: "$".into(),
        message: e.to_string(),
    })?;
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    text.push('\n');
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

/// The file's indentation unit (first indented line: tabs or N spaces), so edits keep it.
fn indent_of(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let ws: String = l.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
        (!ws.is_empty() && ws.len() < l.len()).then_some(ws)
    })
}

/// Sets (or clears, with `None`) the default model of backend `id`, adding the backend entry
/// (`kind`, `url`) when the file does not have it yet.
pub fn set_backend_model(
    path: &Path,
    id: &str,
    kind: &str,
    url: &str,
    model: Option<&str>,
) -> Result<(), Error> {
    let mut v = read(path)?;
    let Some(obj) = v.as_object_mut() else {
        return Err(Error::Key {
            path: path.to_path_buf(),
            key: "$".into(),
            message: "expected a JSON object".into(),
        });
    };
    let list = obj.entry("backends").or_insert_with(|| json!([]));
    let Some(list) = list.as_array_mut() else {
        return Err(Error::Key {
            path: path.to_path_buf(),
            key: "backends".into(),
            message: "expected a list".into(),
        });
    };
    let model = model.unwrap_or("");
    match list.iter_mut().find(|b| b["id"] == id) {
        Some(entry) => entry["model"] = json!(model),
        None => list.push(json!({"id": id, "kind": kind, "url": url, "model": model})),
    }
    write(path, &v)
}

/// Sets dotted keys (`chain.rpc_url`, …), creating intermediate objects and keeping the rest.
pub fn set_keys(path: &Path, entries: &[(&str, Value)]) -> Result<(), Error> {
    let mut v = read(path)?;
    for (key, value) in entries {
        let mut cur = &mut v;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let Some(obj) = cur.as_object_mut() else {
                return Err(Error::Key {
                    path: path.to_path_buf(),
                    key: parts[..i].join("."),
                    message: "expected a JSON object".into(),
                });
            };
            if i + 1 == parts.len() {
                obj.insert(part.to_string(), value.clone());
                break;
            }
            cur = obj.entry(part.to_string()).or_insert_with(|| json!({}));
        }
    }
    write(path, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_files_indentation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            "{\n    \"server\": {\n        \"port\": 4001\n    }\n}\n",
        )
        .unwrap();
        set_keys(&p, &[("ui.theme", json!("light"))]).unwrap();
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(t.contains("\n        \"port\": 4001"), "{t}");
        assert!(
            t.contains("\n    \"ui\": {\n        \"theme\": \"light\""),
            "{t}"
        );
        std::fs::write(&p, "{\n\t\"a\": 1\n}").unwrap();
        set_keys(&p, &[("b", json!(2))]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\n\t\"a\": 1,\n\t\"b\": 2\n}\n"
        );
    }

    #[test]
    fn keeps_other_keys_and_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, r#"{"server": {"port": 4001}, "backends": [{"id": "llm", "kind": "ollama", "num_thread": 2}], "zeta": true}"#).unwrap();
        set_backend_model(&p, "llm", "ollama", "", Some("qwen2.5:0.5b")).unwrap();
        set_backend_model(
            &p,
            "llamacpp",
            "llamacpp",
            "http://127.0.0.1:8080",
            Some("m"),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["server", "backends", "zeta"]);
        assert_eq!(
            v["backends"][0],
            json!({"id": "llm", "kind": "ollama", "num_thread": 2, "model": "qwen2.5:0.5b"})
        );
        assert_eq!(v["backends"][1]["url"], "http://127.0.0.1:8080");
        set_backend_model(&p, "llm", "ollama", "", None).unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(v["backends"][0]["model"], "");
    }
}
