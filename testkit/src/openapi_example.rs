//! Answers in GitHub's shapes, taken from GitHub's own OpenAPI description: for an operation
//! and status, the smallest value its response schema accepts (every required property, with
//! a value of the right type and format), which the stand-in then fills with what it knows.
//! So the stand-in never hand-writes the hundred fields of a pull request, and Prism still
//! checks every answer against the description.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

/// The description `scripts/test` cut (`CODERIPPLE_GITHUB_OPENAPI`).
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = std::env::var("CODERIPPLE_GITHUB_OPENAPI").unwrap_or_else(|_| {
            panic!("CODERIPPLE_GITHUB_OPENAPI is not set: run the tests with scripts/test")
        });
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("GitHub's OpenAPI description {path}: {e}"));
        serde_json::from_str(&text).expect("GitHub's OpenAPI description is JSON")
    })
}

/// The smallest answer GitHub's description allows for `method path` (a path template as the
/// description writes it, e.g. `/repos/{owner}/{repo}/pulls`) with `status`, with `fill`
/// merged over it (objects merged key by key, anything else replaced).
pub fn answer(method: &str, path: &str, status: u16, fill: Value) -> Value {
    filled(response_schema(method, path, status), fill)
}

/// [`answer`] for one item of an answer that is a list.
pub fn answer_item(method: &str, path: &str, status: u16, fill: Value) -> Value {
    filled(&response_schema(method, path, status)["items"], fill)
}

fn response_schema(method: &str, path: &str, status: u16) -> &'static Value {
    let schema = &spec()["paths"][path][method]["responses"][status.to_string()]["content"]["application/json"]
        ["schema"];
    assert!(
        !schema.is_null(),
        "GitHub's description has no JSON answer for {method} {path} {status}: add the endpoint to scripts/github-openapi-subset.py"
    );
    schema
}

fn filled(schema: &Value, fill: Value) -> Value {
    let mut out = example(schema);
    merge(&mut out, fill);
    out
}

/// The smallest value `schema` accepts.
pub fn example(schema: &Value) -> Value {
    if let Some(all) = schema["allOf"].as_array() {
        let mut out = json!({});
        for part in all {
            merge(&mut out, example(part));
        }
        return out;
    }
    // Of several alternatives, the one asking least: with `oneOf`, a value that fits a
    // larger alternative may fit a smaller one too, which `oneOf` forbids.
    for key in ["oneOf", "anyOf"] {
        if let Some(alternatives) = schema[key].as_array() {
            let smallest = alternatives
                .iter()
                .filter(|a| a["type"] != "null")
                .min_by_key(|a| a["required"].as_array().map_or(0, Vec::len));
            if let Some(a) = smallest {
                return example(a);
            }
        }
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema["properties"].is_object() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let mut out = Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let Some(name) = name.as_str() else { continue };
                out.insert(name.to_owned(), example(&schema["properties"][name]));
            }
            Value::Object(out)
        }
        "array" => {
            let min = schema["minItems"].as_u64().unwrap_or(0) as usize;
            Value::Array((0..min).map(|_| example(&schema["items"])).collect())
        }
        "integer" | "number" => json!(schema["minimum"].as_i64().unwrap_or(1).max(1)),
        "boolean" => json!(false),
        "null" => Value::Null,
        _ => json!(match schema["format"].as_str() {
            Some("date-time") => "2026-01-01T00:00:00Z",
            Some("date") => "2026-01-01",
            Some("uri") | Some("uri-template") => "https://api.github.com/stand-in",
            Some("email") => "stand-in@example.com",
            _ => "stand-in",
        }),
    }
}

/// `fill` over `out`: objects key by key, anything else replaced.
pub fn merge(out: &mut Value, fill: Value) {
    match (out, fill) {
        (Value::Object(o), Value::Object(f)) => {
            for (k, v) in f {
                match o.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        o.insert(k, v);
                    }
                }
            }
        }
        (slot, fill) => *slot = fill,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_value_has_every_required_field_in_its_type() {
        let schema = json!({
            "type": "object", "required": ["a", "b", "c", "d", "e"],
            "properties": {
                "a": {"type": "string", "format": "date-time"},
                "b": {"type": ["integer", "null"]},
                "c": {"type": "array", "items": {"type": "string"}},
                "d": {"oneOf": [
                    {"type": "object", "required": ["x", "y"], "properties": {"x": {"type": "string"}, "y": {"type": "string"}}},
                    {"type": "object", "required": ["x"], "properties": {"x": {"type": "string"}}}
                ]},
                "e": {"enum": ["open", "closed"]},
                "f": {"type": "string"}
            }
        });
        let mut v = example(&schema);
        assert_eq!(
            v,
            json!({"a": "2026-01-01T00:00:00Z", "b": 1, "c": [], "d": {"x": "stand-in"}, "e": "open"})
        );
        merge(&mut v, json!({"d": {"y": "z"}, "e": "closed"}));
        assert_eq!(v["d"], json!({"x": "stand-in", "y": "z"}));
        assert_eq!(v["e"], "closed");
    }
}
