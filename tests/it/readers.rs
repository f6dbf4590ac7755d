//! The outputs in the analysts' tools: `tests/readers.py` reads every dataset of three
//! published nights of the sample (the first with empty `changes/` and `unsubscribe/`) in
//! DuckDB, polars, pyarrow 14 and Spark, and all nights of one table with `as_of`, by the
//! README's recipes.
//!
//! It needs a Python with those packages: `ELIGIBILITY_PYTHON` names it (`.ci/run` makes
//! one). Without it the test says so and passes, unless `ELIGIBILITY_READERS=required`
//! (set by `.ci/run`), when a missing Python fails it.

use std::process::Command;

use crate::support::*;

#[test]
fn duckdb_polars_pyarrow_and_spark_read_every_output() {
    let required = std::env::var("ELIGIBILITY_READERS").as_deref() == Ok("required");
    let Ok(python) = std::env::var("ELIGIBILITY_PYTHON") else {
        assert!(
            !required,
            "ELIGIBILITY_READERS=required needs ELIGIBILITY_PYTHON"
        );
        eprintln!("readers: ELIGIBILITY_PYTHON is not set; the reader checks did not run");
        return;
    };
    let work = Workdir::new();
    let x = work.copy_sample("iso", "x");
    for as_of in ["2026-06-30", "2026-07-01", "2026-07-02"] {
        if as_of == "2026-07-02" {
            // the last night has an opt-out: its changes/ and unsubscribe/ have rows
            let prefs = x.join("preferences.csv");
            let text = std::fs::read_to_string(&prefs).unwrap();
            let opt_out = "D001;1003;newsletter;email;opt_out;2026-07-01 20:00;website\n";
            std::fs::write(&prefs, text + opt_out).unwrap();
        }
        assert_ok(&work.run_at("pipelines/sample.toml", Some(&x), "out", as_of, &[], &[]));
    }
    let last = manifest(&work.path("out/as_of=2026-07-02"));
    assert!(last["outputs"]["unsubscribe"]["rows"].as_u64() > Some(0));
    let o = Command::new(&python)
        .arg(repo().join("tests/readers.py"))
        .arg(work.path("out"))
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "{}\n{err}",
        String::from_utf8_lossy(&o.stdout)
    );
}
