//! Snapshots of what people read: the run summary, error messages, the manifest.

use crate::support::*;

#[test]
fn run_summary() {
    let work = Workdir::new();
    let o = work.run(
        "pipelines/sample.toml",
        &repo().join("sample-data/iso"),
        "out",
    );
    let summary = String::from_utf8_lossy(&o.stdout).into_owned();
    insta::with_settings!({filters => vec![(r"output: .*", "output: [OUT]")]}, {
        insta::assert_snapshot!(summary);
    });
}

/// The JSON Schema's keywords this project uses: type, const, enum, required, properties,
/// additionalProperties (false or a schema), items. Returns every place `v` breaks it.
pub fn check_schema(
    v: &serde_json::Value,
    schema: &serde_json::Value,
    at: &str,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    let type_ok = |t: &str| match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    };
    match &schema["type"] {
        Value::String(t) if !type_ok(t) => out.push(format!("{at}: not {t}")),
        Value::Array(ts) if !ts.iter().any(|t| type_ok(t.as_str().unwrap_or_default())) => {
            out.push(format!("{at}: none of {ts:?}"));
        }
        _ => {}
    }
    if let Some(c) = schema.get("const") {
        if c != v {
            out.push(format!("{at}: not {c}"));
        }
    }
    if let Some(Value::Array(e)) = schema.get("enum") {
        if !e.contains(v) {
            out.push(format!("{at}: {v} not in {e:?}"));
        }
    }
    if let Value::Object(o) = v {
        for r in schema["required"].as_array().into_iter().flatten() {
            if !o.contains_key(r.as_str().unwrap_or_default()) {
                out.push(format!("{at}: lacks {r}"));
            }
        }
        for (k, x) in o {
            let declared = schema["properties"]
                .get(k)
                .or_else(|| schema.get("additionalProperties").filter(|s| s.is_object()));
            match declared {
                Some(s) => check_schema(x, s, &format!("{at}.{k}"), out),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    out.push(format!("{at}.{k}: not in the schema"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(a), Some(items)) = (v, schema.get("items")) {
        for (i, x) in a.iter().enumerate() {
            check_schema(x, items, &format!("{at}[{i}]"), out);
        }
    }
}

#[test]
fn manifest() {
    let work = Workdir::new();
    let run = work.run_sample();
    let mut m = crate::support::manifest(&run);
    // it follows the JSON Schema the repository ships
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("schemas/manifest.schema.json")).unwrap(),
    )
    .unwrap();
    let mut broken = Vec::new();
    check_schema(&m, &schema, "manifest", &mut broken);
    assert!(broken.is_empty(), "{broken:#?}");
    let mut wrong = m.clone();
    wrong["surprise"] = 1.into();
    wrong["inputs"][0]["rows_read"] = "many".into();
    check_schema(&wrong, &schema, "manifest", &mut broken);
    assert_eq!(broken.len(), 2, "the check can fail: {broken:?}");
    assert_eq!(m["manifest_schema"], "schemas/manifest.schema.json");
    assert!(m["arguments"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "--as-of"));
    assert!(m["started_at"].as_str().unwrap() <= m["finished_at"].as_str().unwrap());
    for k in ["started_at", "finished_at", "arguments", "peak_memory_mib"] {
        m[k] = format!("[{k}]").into();
    }
    m["timings_s"] = "[timings]".into();
    m["tool_version"] = "[version]".into();
    m["pipeline_file"] = "[pipeline]".into();
    for input in m["inputs"].as_array_mut().unwrap() {
        input["path"] = "[path]".into();
    }
    for output in m["outputs"].as_object_mut().unwrap().values_mut() {
        output["bytes"] = "[bytes]".into();
    }
    insta::assert_json_snapshot!(m);
}

#[test]
fn pipeline_file_problems() {
    let work = Workdir::new();
    let p = work.write(
        "broken.toml",
        "colour = \"blue\"\n[input]\nencoding = \"ebcdic\"\ndate_format = \"DD-MM\"\n[policy.terms]\nnewsletter = { fax = 12, email = -1 }\n[dealers.D9.explicit_consent]\nmarketing = [\"email\"]\n",
    );
    let o = work.cmd(&["validate", "--pipeline", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(78));
    let filters = vec![
        (r"/.*/broken.toml", "[DIR]/broken.toml"),
        (r"\d{4}-\d\d-\d\dT[\d:.]+Z", "[TIME]"),
    ];
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!(stderr(&o));
    });
}
