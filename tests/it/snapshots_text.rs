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

#[test]
fn manifest() {
    let work = Workdir::new();
    let run = work.run_sample();
    let mut m = crate::support::manifest(&run);
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
    insta::with_settings!({filters => vec![(r"/.*/broken.toml", "[DIR]/broken.toml")]}, {
        insta::assert_snapshot!(stderr(&o));
    });
}
