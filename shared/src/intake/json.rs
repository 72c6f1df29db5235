//! Small lenient accessors over `serde_json::Value`: real payloads put numbers in strings, `null`
//! where a string is expected, and vary key case; strict derive structs reject them.

use serde_json::{Map, Value};

/// The first of `keys` present and non-null.
pub fn get<'a>(obj: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().filter_map(|k| obj.get(*k)).find(|v| !v.is_null())
}

/// A non-empty string (numbers and bools are stringified).
pub fn string(obj: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    match get(obj, keys)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn number(obj: &Map<String, Value>, keys: &[&str]) -> Option<f64> {
    match get(obj, keys)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn uint(obj: &Map<String, Value>, keys: &[&str]) -> Option<u32> {
    number(obj, keys).filter(|n| *n >= 0.0 && *n <= u32::MAX as f64).map(|n| n as u32)
}

pub fn boolean(obj: &Map<String, Value>, keys: &[&str]) -> Option<bool> {
    match get(obj, keys)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn object<'a>(obj: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Map<String, Value>> {
    get(obj, keys)?.as_object()
}

pub fn array<'a>(obj: &'a Map<String, Value>, keys: &[&str]) -> &'a [Value] {
    get(obj, keys).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// An object, or a JSON string holding one (`reasonData` is a string of JSON).
pub fn embedded_object(v: Option<&Value>) -> Option<Map<String, Value>> {
    match v? {
        Value::Object(m) => Some(m.clone()),
        Value::String(s) => serde_json::from_str::<Value>(s).ok()?.as_object().cloned(),
        _ => None,
    }
}
