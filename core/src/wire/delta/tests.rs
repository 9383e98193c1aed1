use super::*;
use serde_json::json;

/// diff then apply gives back the new value, and the patch is what travels.
fn roundtrip(old: Value, new: Value) -> Value {
    let patch = diff(&old, &new).unwrap_or(Value::Null);
    if patch.is_null() {
        assert_eq!(old, new);
        return patch;
    }
    let mut base = old;
    apply(&mut base, &patch).expect("applies");
    assert_eq!(base, new, "patch {patch}");
    patch
}

fn size(v: &Value) -> usize {
    serde_json::to_string(v).map(|s| s.len()).unwrap_or(0)
}

#[test]
fn equal_values_need_no_patch() {
    assert_eq!(diff(&json!({"a": [1, 2]}), &json!({"a": [1, 2]})), None);
}

#[test]
fn objects_patch_changed_added_and_removed_keys_only() {
    let p = roundtrip(
        json!({"keep": "same text that is long", "n": 1, "gone": true, "deep": {"x": 1, "y": 2}}),
        json!({"keep": "same text that is long", "n": 2, "new": [1], "deep": {"x": 1, "y": 3}}),
    );
    let text = p.to_string();
    assert!(!text.contains("same text"), "{text}");
    assert!(text.contains("\"-\":[\"gone\"]"), "{text}");
}

#[test]
fn a_log_that_slides_by_one_line_sends_one_line() {
    let line = |i: usize| json!({"ts_ms": i, "level": "Info", "text": format!("line number {i} with some text")});
    let old: Vec<Value> = (0..2000).map(line).collect();
    let new: Vec<Value> = (1..2001).map(line).collect();
    let p = roundtrip(Value::Array(old), Value::Array(new.clone()));
    assert!(size(&p) < 200, "{} bytes: {p}", size(&p));
    assert!(size(&p) * 100 < size(&Value::Array(new)));
}

#[test]
fn a_newest_first_list_that_gains_rows_and_changes_one_sends_those() {
    let row = |i: usize, state: &str| json!({"id": format!("job-{i}"), "state": state, "containers": ["llm"]});
    let old: Vec<Value> = (0..1000).rev().map(|i| row(i, "Success")).collect();
    let mut new: Vec<Value> = (0..1003).rev().map(|i| row(i, "Success")).collect();
    new[0] = row(1002, "Running");
    new.truncate(1000);
    // Row 998 (old index 1) finished differently.
    new[4] = row(998, "Failed");
    let p = roundtrip(Value::Array(old), Value::Array(new));
    let text = p.to_string();
    assert!(
        text.contains("job-1002") && text.contains("Failed"),
        "{text}"
    );
    assert!(!text.contains("job-500"), "{text}");
}

#[test]
fn a_history_series_rolled_by_one_bucket_sends_the_new_bucket() {
    let old: Vec<Value> = (0..60).map(|i| json!(i as f64 * 0.5)).collect();
    let mut new: Vec<Value> = (1..60).map(|i| json!(i as f64 * 0.5)).collect();
    new.push(json!(null));
    let p = roundtrip(Value::Array(old), Value::Array(new));
    assert!(size(&p) <= 40, "{p}");
}

#[test]
fn type_changes_and_unrelated_arrays_are_replaced_whole() {
    roundtrip(json!({"a": 1}), json!({"a": "one"}));
    roundtrip(json!([1, 2, 3]), json!(["x", "y"]));
    roundtrip(json!([]), json!([1]));
    roundtrip(json!([1]), json!([]));
    roundtrip(json!(null), json!({"a": [1, {"b": 2}]}));
    roundtrip(json!({"a": [1, 2, 3]}), json!({"a": [0, 1, 2, 3, 4]}));
}

#[test]
fn a_patch_that_does_not_fit_the_base_is_an_error_not_a_panic() {
    let mut base = json!({"a": 1});
    assert!(apply(&mut base, &json!({"[": [0, 1, []]})).is_err());
    assert!(apply(&mut base, &json!({"{": {"a": {"[": [0, 1, []]}}})).is_err());
    assert!(apply(&mut json!([1]), &json!({"[": [0, 1, [[5, {"=": 1}]]]})).is_err());
    assert!(apply(&mut base, &json!({"?": 1})).is_err());
    assert!(apply(&mut base, &json!(3)).is_err());
    assert!(apply(&mut json!([1]), &json!({"[": "x"})).is_err());
}

#[test]
fn a_list_of_objects_that_all_change_a_little_sends_the_changes() {
    let win = |t: u64| json!({"window": "M1", "series": {"cpu": (0..60).map(|i| json!((i + t) as f64)).collect::<Vec<_>>()}});
    let old = json!([win(0), win(100), win(200)]);
    let new = json!([win(1), win(101), win(201)]);
    let p = roundtrip(old, new.clone());
    assert!(
        size(&p) * 4 < size(&new),
        "{} of {}: {p}",
        size(&p),
        size(&new)
    );
}
