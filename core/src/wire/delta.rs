//! Model frames as deltas, so an attached TUI over a slow link receives what changed, not the
//! whole model every frame. RFC 7396 merge patches replace arrays whole and RFC 6902 diffs
//! compare arrays index by index, so a log that gains one line at the end (and drops one at the
//! front) would resend every line; here arrays are aligned first (appended, prepended, rolled
//! by one) and only the elements that differ travel.
//!
//! A patch is one of
//! - `{"=": value}`: the value replaced whole;
//! - `{"{": {key: patch, …}, "-": [key, …]}`: an object with keys patched or added, and removed;
//! - `{"[": [shift, len, [[i, patch], …]]}`: an array of `len` elements where element `i` is
//!   the old element `i + shift`, patched where listed (a new element is listed as `{"=": …}`).
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    #[error("model delta does not apply: {0}")]
    Mismatch(&'static str),
}

/// The patch that turns `old` into `new`; `None` when they are equal.
pub fn diff(old: &Value, new: &Value) -> Option<Value> {
    if old == new {
        return None;
    }
    Some(match (old, new) {
        (Value::Object(o), Value::Object(n)) => diff_object(o, n),
        (Value::Array(o), Value::Array(n)) => diff_array(o, n),
        _ => replace(new),
    })
}

fn replace(v: &Value) -> Value {
    let mut m = Map::new();
    m.insert("=".into(), v.clone());
    Value::Object(m)
}

fn diff_object(old: &Map<String, Value>, new: &Map<String, Value>) -> Value {
    let mut set = Map::new();
    for (k, v) in new {
        match old.get(k) {
            Some(o) => {
                if let Some(p) = diff(o, v) {
                    set.insert(k.clone(), p);
                }
            }
            None => {
                set.insert(k.clone(), replace(v));
            }
        }
    }
    let removed: Vec<Value> = old
        .keys()
        .filter(|k| !new.contains_key(*k))
        .map(|k| Value::String(k.clone()))
        .collect();
    let mut m = Map::new();
    m.insert("{".into(), Value::Object(set));
    if !removed.is_empty() {
        m.insert("-".into(), Value::Array(removed));
    }
    Value::Object(m)
}

/// Elements of `new` that are not the old element `i + shift` unchanged.
fn cost(old: &[Value], new: &[Value], shift: i64) -> usize {
    new.iter()
        .enumerate()
        .filter(|(i, v)| at(old, *i, shift) != Some(*v))
        .count()
}

fn at(old: &[Value], i: usize, shift: i64) -> Option<&Value> {
    let j = i64::try_from(i).ok()?.checked_add(shift)?;
    old.get(usize::try_from(j).ok()?)
}

fn diff_array(old: &[Value], new: &[Value]) -> Value {
    // Candidate alignments: in place, rolled by one either way, the old array slid forward
    // (a log that gained lines at the end), the new one (a newest-first list that gained rows).
    let mut shifts = vec![0i64, 1, -1];
    if let Some(first) = new.first()
        && let Some(s) = old.iter().position(|o| o == first)
    {
        shifts.push(s as i64);
    }
    if let Some(first) = old.first()
        && let Some(p) = new.iter().position(|n| n == first)
    {
        shifts.push(-(p as i64));
    }
    let Some((best, changed)) = shifts
        .into_iter()
        .map(|s| (s, cost(old, new, s)))
        .min_by_key(|(_, c)| *c)
    else {
        return replace(&Value::Array(new.to_vec()));
    };
    let sets: Vec<Value> = new
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let p = match at(old, i, best) {
                Some(o) => diff(o, v)?,
                None => replace(v),
            };
            Some(Value::Array(vec![Value::from(i), p]))
        })
        .collect();
    // Nothing kept from the old array (every element new, none patched in place): whole.
    let all_new = sets
        .iter()
        .all(|e| e.get(1).is_some_and(|p| p.get("=").is_some()));
    if changed == new.len() && all_new && !new.is_empty() {
        return replace(&Value::Array(new.to_vec()));
    }
    let mut m = Map::new();
    m.insert(
        "[".into(),
        Value::Array(vec![
            Value::from(best),
            Value::from(new.len()),
            Value::Array(sets),
        ]),
    );
    Value::Object(m)
}

/// Applies a patch from [`diff`] to `base` in place.
pub fn apply(base: &mut Value, patch: &Value) -> Result<(), DeltaError> {
    let p = patch
        .as_object()
        .ok_or(DeltaError::Mismatch("a patch is an object"))?;
    if let Some(v) = p.get("=") {
        *base = v.clone();
        return Ok(());
    }
    if let Some(set) = p.get("{") {
        let obj = base
            .as_object_mut()
            .ok_or(DeltaError::Mismatch("an object patch on a non-object"))?;
        let set = set
            .as_object()
            .ok_or(DeltaError::Mismatch("an object patch's keys are an object"))?;
        for (k, sub) in set {
            apply(obj.entry(k.clone()).or_insert(Value::Null), sub)?;
        }
        if let Some(removed) = p.get("-").and_then(Value::as_array) {
            for k in removed.iter().filter_map(Value::as_str) {
                obj.remove(k);
            }
        }
        return Ok(());
    }
    if let Some(spec) = p.get("[") {
        let bad = DeltaError::Mismatch("an array patch is [shift, len, sets]");
        let [shift, len, sets] = spec.as_array().map(Vec::as_slice).unwrap_or_default() else {
            return Err(bad);
        };
        let (Some(shift), Some(len), Some(sets)) = (shift.as_i64(), len.as_u64(), sets.as_array())
        else {
            return Err(bad);
        };
        let old = base
            .as_array()
            .ok_or(DeltaError::Mismatch("an array patch on a non-array"))?;
        let len = usize::try_from(len).map_err(|_| DeltaError::Mismatch("array too long"))?;
        let mut out: Vec<Value> = (0..len)
            .map(|i| at(old, i, shift).cloned().unwrap_or(Value::Null))
            .collect();
        for s in sets {
            let (Some(i), Some(sub)) = (s.get(0).and_then(Value::as_u64), s.get(1)) else {
                return Err(DeltaError::Mismatch("an array entry is [index, patch]"));
            };
            let slot = usize::try_from(i)
                .ok()
                .and_then(|i| out.get_mut(i))
                .ok_or(DeltaError::Mismatch("an array index past its length"))?;
            apply(slot, sub)?;
        }
        *base = Value::Array(out);
        return Ok(());
    }
    Err(DeltaError::Mismatch("unknown patch kind"))
}

#[cfg(test)]
mod tests;
