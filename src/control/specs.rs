//! Node `specs` (reference infernet-protocol §3.3, §4.3): what a node tells the control plane
//! about itself. The server sanitises every upload (register *and* heartbeat, unlike the
//! reference, which stored heartbeat specs as sent): known keys only, bounded sizes, coarse
//! GPU tiers, no free-form text beyond short model names.
use serde_json::{Map, Value, json};

pub const VRAM_TIERS: [&str; 6] = ["<8gb", "8-16gb", "16-24gb", "24-48gb", ">=48gb", "unknown"];
const GPU_VENDORS: [&str; 4] = ["nvidia", "amd", "apple", "intel"];
const CPU_VENDORS: [&str; 6] = ["intel", "amd", "apple", "aws", "ampere", "other"];
pub const MAX_MODELS: usize = 50;
pub const DEFAULT_CAP: i64 = 4;

/// Printable text, no control characters, at most `max` characters.
fn text(v: &Value, max: usize) -> Option<Value> {
    let s = v.as_str()?;
    let clean: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    (!clean.trim().is_empty()).then(|| Value::String(clean))
}

fn one_of(v: &Value, allowed: &[&str]) -> Option<Value> {
    let s = v.as_str()?.to_ascii_lowercase();
    allowed.contains(&s.as_str()).then(|| Value::String(s))
}

fn num(v: &Value, lo: f64, hi: f64) -> Option<Value> {
    let x = v.as_f64()?;
    (x.is_finite() && (lo..=hi).contains(&x)).then(|| json!(x))
}

fn int(v: &Value, lo: i64, hi: i64) -> Option<Value> {
    let x = v.as_i64()?;
    (lo..=hi).contains(&x).then(|| json!(x))
}

fn put(out: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        out.insert(key.to_string(), v);
    }
}

fn link(v: &Value) -> Value {
    let mut o = Map::new();
    put(
        &mut o,
        "available",
        v.get("available").and_then(Value::as_bool).map(Value::Bool),
    );
    put(
        &mut o,
        "topology",
        v.get("topology").and_then(|t| text(t, 64)),
    );
    for k in ["link_count", "active_port_count", "adapter_count"] {
        put(&mut o, k, v.get(k).and_then(|x| int(x, 0, 4096)));
    }
    Value::Object(o)
}

/// The served model names: strings, trimmed, deduplicated, at most 50 of at most 200 chars.
pub fn models(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in v.and_then(Value::as_array).into_iter().flatten() {
        if let Some(Value::String(s)) = text(m, 200) {
            let s = s.trim().to_string();
            if !out.contains(&s) && out.len() < MAX_MODELS {
                out.push(s);
            }
        }
    }
    out
}

/// Keeps only the known, bounded parts of a specs upload.
pub fn sanitize(specs: &Value) -> Value {
    let mut out = Map::new();
    if let Some(cpu) = specs.get("cpu").filter(|c| c.is_object()) {
        let mut c = Map::new();
        put(
            &mut c,
            "vendor",
            cpu.get("vendor").and_then(|v| one_of(v, &CPU_VENDORS)),
        );
        put(&mut c, "arch", cpu.get("arch").and_then(|v| text(v, 16)));
        put(
            &mut c,
            "cores",
            cpu.get("cores").and_then(|v| int(v, 0, 65_536)),
        );
        put(
            &mut c,
            "groups",
            cpu.get("groups").and_then(|v| int(v, 0, 1024)),
        );
        put(
            &mut c,
            "ram_gb",
            cpu.get("ram_gb").and_then(|v| num(v, 0.0, 1e6)),
        );
        out.insert("cpu".into(), Value::Object(c));
    }
    let gpus: Vec<Value> = specs
        .get("gpus")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(64)
        .map(|g| {
            json!({
                "vendor": g.get("vendor").and_then(|v| one_of(v, &GPU_VENDORS)).unwrap_or(Value::Null),
                "vram_tier": g.get("vram_tier").and_then(|v| one_of(v, &VRAM_TIERS)).unwrap_or_else(|| json!("unknown")),
                "model": g.get("model").and_then(|v| text(v, 64)).unwrap_or(Value::Null),
            })
        })
        .collect();
    out.insert("gpu_count".into(), json!(gpus.len()));
    out.insert("gpus".into(), Value::Array(gpus));
    if let Some(ic) = specs.get("interconnects").filter(|c| c.is_object()) {
        let mut o = Map::new();
        for k in ["nvlink", "xgmi", "infiniband", "efa"] {
            if let Some(l) = ic.get(k).filter(|l| l.is_object()) {
                o.insert(k.into(), link(l));
            }
        }
        put(
            &mut o,
            "rdma_capable",
            ic.get("rdma_capable")
                .and_then(Value::as_bool)
                .map(Value::Bool),
        );
        out.insert("interconnects".into(), Value::Object(o));
    }
    out.insert(
        "served_models".into(),
        json!(models(specs.get("served_models"))),
    );
    if let Some(b) = specs.get("bench").filter(|b| b.is_object()) {
        let mut o = Map::new();
        put(
            &mut o,
            "tokens_per_second_avg",
            b.get("tokens_per_second_avg")
                .and_then(|v| num(v, 0.0, 1e7)),
        );
        put(
            &mut o,
            "samples",
            b.get("samples").and_then(|v| int(v, 0, 1_000_000)),
        );
        out.insert("bench".into(), Value::Object(o));
    }
    if let Some(l) = specs.get("load").filter(|l| l.is_object()) {
        let mut o = Map::new();
        put(
            &mut o,
            "active_jobs",
            l.get("active_jobs").and_then(|v| int(v, 0, 100_000)),
        );
        put(
            &mut o,
            "concurrency_cap",
            l.get("concurrency_cap").and_then(|v| int(v, 1, 1024)),
        );
        put(
            &mut o,
            "load_avg_1m",
            l.get("load_avg_1m").and_then(|v| num(v, 0.0, 1e5)),
        );
        put(
            &mut o,
            "gpu_utilization_max",
            l.get("gpu_utilization_max")
                .and_then(|v| num(v, 0.0, 100.0)),
        );
        for k in ["ram", "vram"] {
            if let Some(m) = l.get(k).filter(|m| m.is_object()) {
                let mut mm = Map::new();
                put(
                    &mut mm,
                    "total_gb",
                    m.get("total_gb").and_then(|v| num(v, 0.0, 1e6)),
                );
                put(
                    &mut mm,
                    "free_gb",
                    m.get("free_gb").and_then(|v| num(v, 0.0, 1e6)),
                );
                o.insert(k.into(), Value::Object(mm));
            }
        }
        put(
            &mut o,
            "measured_at",
            l.get("measured_at").and_then(|v| text(v, 40)),
        );
        out.insert("load".into(), Value::Object(o));
    }
    for k in ["cli_version", "e2e_version"] {
        put(&mut out, k, specs.get(k).and_then(|v| text(v, 32)));
    }
    put(
        &mut out,
        "e2e_capable",
        specs
            .get("e2e_capable")
            .and_then(Value::as_bool)
            .map(Value::Bool),
    );
    Value::Object(out)
}

/// The concurrency cap a node advertises (the reference server assumed 4: its daemon never
/// sent one).
pub fn concurrency_cap(specs: &Value) -> i64 {
    specs
        .pointer("/load/concurrency_cap")
        .and_then(Value::as_i64)
        .filter(|c| (1..=1024).contains(c))
        .unwrap_or(DEFAULT_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_known_bounded_fields_and_drops_the_rest() {
        let long = "m".repeat(500);
        let many: Vec<String> = (0..80).map(|i| format!("model-{i}")).collect();
        let s = sanitize(&json!({
            "cpu": {"vendor": "AMD", "arch": "x86_64", "cores": 2, "ram_gb": 8, "serial": "ABC"},
            "gpus": [{"vendor": "nvidia", "vram_tier": "80gb", "model": "H100\u{1b}[31m", "uuid": "GPU-1"}],
            "served_models": ["a", "a", long, 7, "b\n"],
            "load": {"active_jobs": 1, "concurrency_cap": 8, "gpu_utilization_max": 400},
            "hostname": "secret-box", "ip": "10.0.0.2"
        }));
        assert_eq!(
            s["cpu"],
            json!({"vendor": "amd", "arch": "x86_64", "cores": 2, "ram_gb": 8.0})
        );
        assert_eq!(
            s["gpus"],
            json!([{"vendor": "nvidia", "vram_tier": "unknown", "model": "H100[31m"}])
        );
        assert_eq!(s["gpu_count"], json!(1));
        let models = s["served_models"].as_array().unwrap();
        assert_eq!(models[0], json!("a"));
        assert_eq!(models[1].as_str().unwrap().len(), 200);
        assert_eq!(models[2], json!("b"));
        assert_eq!(models.len(), 3);
        assert_eq!(s["load"], json!({"active_jobs": 1, "concurrency_cap": 8}));
        assert!(s.get("hostname").is_none() && s.get("ip").is_none());
        assert_eq!(concurrency_cap(&s), 8);
        assert_eq!(concurrency_cap(&json!({})), DEFAULT_CAP);
        let s = sanitize(&json!({"served_models": many}));
        assert_eq!(s["served_models"].as_array().unwrap().len(), MAX_MODELS);
    }
}
