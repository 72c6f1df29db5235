//! The routing document's JSON Schema (draft 2020-12), generated from the types that parse it:
//! the route tree's ([`crate::route::RoutesDoc`]) and each registered destination's settings, so
//! the schema cannot drift from the parser. `sagealarm schema` prints it;
//! `config/routes.schema.json` is a committed copy (a test fails when it is stale) that editors
//! validate against through the `# yaml-language-server: $schema=…` line of the example.

use super::DESTINATIONS;
use crate::route::RoutesDoc;
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

/// The schema of the whole routing document.
pub fn routing_document() -> Value {
    let mut g = SchemaSettings::draft2020_12().into_generator();
    // The destinations' settings first: their definitions are then part of the root's `$defs`.
    let kinds: Vec<(&str, Value)> = DESTINATIONS.iter().map(|d| (d.kind, (d.schema)(&mut g).to_value())).collect();
    let mut root = g.root_schema_for::<RoutesDoc>().to_value();
    let receiver = &mut root["$defs"]["ReceiverDoc"];
    if let Some(props) = receiver["properties"].as_object_mut() {
        for (kind, schema) in &kinds {
            props.insert(kind.to_string(), schema.clone());
        }
    }
    // Exactly one destination per receiver.
    let one_of: Vec<Value> = kinds.iter().map(|(k, _)| json!({ "required": [k] })).collect();
    if let Some(r) = receiver.as_object_mut() {
        r.insert("oneOf".into(), Value::Array(one_of));
        r.insert("description".into(), "A destination: its name and exactly one destination key with that destination's settings.".into());
    }
    root.as_object_mut().map(|o| o.insert("$id".into(), SCHEMA_ID.into()));
    no_null(&mut root);
    sort(&mut root);
    root
}

/// Where the committed copy is published (its `$id`).
pub const SCHEMA_ID: &str = "https://github.com/sagealarm/sagealarm/blob/main/config/routes.schema.json";

/// An optional key is one to leave out, not to set to null: `Option<T>`'s `anyOf: [T, null]`
/// becomes `T`, `type: [t, "null"]` becomes `t`. Validators then descend into `T` and name the
/// exact key at fault (`/route/group/window_s`), where an `anyOf` fails as a whole at its parent.
fn no_null(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(types)) = o.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let t = types.remove(0);
                    o.insert("type".into(), t);
                }
            }
            let single = match o.get("anyOf") {
                Some(Value::Array(alts)) if alts.len() == 2 => {
                    let rest: Vec<&Value> = alts.iter().filter(|a| **a != json!({ "type": "null" })).collect();
                    (rest.len() == 1).then(|| rest[0].clone())
                }
                _ => None,
            };
            if let Some(Value::Object(inner)) = single {
                o.remove("anyOf");
                for (k, val) in inner {
                    o.entry(k).or_insert(val);
                }
            }
            if o.get("enum").and_then(Value::as_array).is_some_and(|e| e.contains(&Value::Null)) {
                if let Some(Value::Array(e)) = o.get_mut("enum") {
                    e.retain(|x| !x.is_null());
                }
            }
            o.values_mut().for_each(no_null);
        }
        Value::Array(a) => a.iter_mut().for_each(no_null),
        _ => {}
    }
}

/// Keys in order, so the printed schema is stable.
fn sort(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut sorted = Map::new();
            for (k, mut v) in entries {
                sort(&mut v);
                sorted.insert(k, v);
            }
            *m = sorted;
        }
        Value::Array(a) => a.iter_mut().for_each(sort),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_destination_and_match_key_is_in_the_schema() {
        let s = routing_document();
        let receiver = &s["$defs"]["ReceiverDoc"];
        for d in DESTINATIONS {
            assert!(receiver["properties"][d.kind].is_object(), "{} missing: {receiver}", d.kind);
        }
        assert_eq!(receiver["additionalProperties"], false);
        let m = &s["$defs"]["MatchDoc"]["properties"];
        for key in ["alarm_name", "alarm_name_regex", "endpoint", "namespace", "state", "account", "region"] {
            assert!(m[key].is_object(), "match.{key} missing");
        }
        assert_eq!(s["$defs"]["GroupDoc"]["properties"]["window_s"]["maximum"], 86_400);
        assert!(s["$defs"]["RouteDoc"]["properties"]["severity"]["enum"].as_array().is_some_and(|e| e.len() == 4));
    }
}
