//! Bad bytes: the sample extract mutated at random (bytes flipped to quotes, delimiters, line
//! breaks, invalid UTF-8, NULs; lines cut, doubled or dropped; files truncated), in CSV and
//! Parquet, and the pipeline file likewise. A run never panics: it succeeds with every row
//! accounted for (read = valid + quarantined + exact duplicates), or fails with a data error
//! that names the file. Runs in the test process (the library), bounded in cases.

use std::path::Path;

use chrono::NaiveDate;
use eligibility::pipeline::Pipeline;
use eligibility::progress::Progress;
use eligibility::run::{self, Job};
use eligibility::Exit;
use proptest::prelude::*;

use crate::support::*;

/// One change to a file's bytes.
#[derive(Clone, Debug)]
enum Mutation {
    /// Byte at (position as a fraction of the length) becomes this byte.
    Set(f64, u8),
    Insert(f64, u8),
    /// Everything from here on is cut off.
    Truncate(f64),
    /// The line at this position is written twice.
    DoubleLine(f64),
    DropLine(f64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        Just(b'"'),
        Just(b';'),
        Just(b'\n'),
        Just(b'\r'),
        Just(b' '),
        Just(0xff_u8),
        Just(0xc3_u8),
        Just(0_u8),
        Just(b'-'),
        Just(b'9'),
        any::<u8>(),
    ];
    let at = 0.0..1.0f64;
    prop_oneof![
        4 => (at.clone(), byte.clone()).prop_map(|(a, b)| Mutation::Set(a, b)),
        3 => (at.clone(), byte).prop_map(|(a, b)| Mutation::Insert(a, b)),
        1 => at.clone().prop_map(Mutation::Truncate),
        1 => at.clone().prop_map(Mutation::DoubleLine),
        1 => at.prop_map(Mutation::DropLine),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |f: f64, len: usize| ((len as f64) * f) as usize;
    let line = |bytes: &[u8], i: usize| {
        let start = bytes[..i]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        let end = bytes[i..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |p| i + p + 1);
        start..end
    };
    if bytes.is_empty() {
        return;
    }
    match *m {
        Mutation::Set(f, b) => {
            let i = at(f, bytes.len()).min(bytes.len() - 1);
            bytes[i] = b;
        }
        Mutation::Insert(f, b) => bytes.insert(at(f, bytes.len()), b),
        Mutation::Truncate(f) => bytes.truncate(at(f, bytes.len())),
        Mutation::DoubleLine(f) => {
            let r = line(bytes, at(f, bytes.len()).min(bytes.len() - 1));
            let copy = bytes[r.clone()].to_vec();
            bytes.splice(r.end..r.end, copy);
        }
        Mutation::DropLine(f) => {
            let r = line(bytes, at(f, bytes.len()).min(bytes.len() - 1));
            bytes.drain(r);
        }
    }
}

const AS_OF_DAY: (i32, u32, u32) = (2026, 11, 22);

fn job(input: &Path, out: &Path, pipeline: &str) -> Job {
    let p = Pipeline::load(&repo().join(pipeline)).expect("pipeline");
    let (y, m, d) = AS_OF_DAY;
    let mut job = Job::new(
        p,
        NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        Some(input.to_path_buf()),
        Some(out.to_path_buf()),
    )
    .expect("job");
    // the guard has its own tests; here every mutated night is compared with none
    job.accept_shrink = eligibility::schema::Table::ALL.to_vec();
    job
}

/// Runs `job`; Ok: every input's rows add up; Err: a data error (65) naming a file.
fn check_run(job: &Job, file: &str) -> Result<(), TestCaseError> {
    match run::run(job, &Progress::new(true)) {
        Ok(report) => {
            for i in &report.manifest.inputs {
                let s = &i.stats;
                prop_assert_eq!(
                    s.rows_read,
                    s.rows_valid + s.exact_duplicates + s.quarantined_total(),
                    "{} adds up",
                    i.table
                );
            }
        }
        Err(e) => {
            let msg = e.to_string();
            prop_assert_eq!(e.exit(), Exit::DataErr, "{}", msg);
            prop_assert!(msg.contains(file), "{file} named in: {msg}");
        }
    }
    Ok(())
}

/// Writes the sample as Parquet into `x`, one file mutated.
fn parquet_sample(x: &Path, file: usize, mutations: &[Mutation]) -> String {
    std::fs::create_dir_all(x).unwrap();
    for t in TABLES {
        let mut df = csv_frame(&repo().join(format!("sample-data/iso/{t}.csv")));
        write_parquet(&x.join(format!("{t}.parquet")), &mut df);
    }
    let name = format!("{}.parquet", TABLES[file]);
    let mut bytes = std::fs::read(x.join(&name)).unwrap();
    for m in mutations {
        apply(&mut bytes, m);
    }
    std::fs::write(x.join(&name), &bytes).unwrap();
    name
}

/// The sample as Parquet in the work folder's `x`, one table's file mutated, run in this
/// process: it must fail with a data error naming that file; returns the message.
fn corrupt_run(work: &Workdir, table: usize, m: Mutation) -> String {
    let x = work.path("x");
    let name = parquet_sample(&x, table, &[m]);
    let r = run::run(
        &job(&x, &work.path("out"), "pipelines/sample.toml"),
        &Progress::new(true),
    );
    let e = r.err().expect("a corrupt file fails the run");
    assert_eq!(e.exit(), Exit::DataErr, "{e}");
    assert!(e.to_string().contains(&name), "{e}");
    e.to_string()
}

/// Regression (found by `mutated_parquet_never_panics`): a byte changed in a page of
/// requests.parquet made polars read a column shorter than the file's rows, and the run
/// stopped with an internal error (exit 70) instead of naming the corrupt file (65).
#[test]
fn a_parquet_file_read_as_columns_of_different_lengths_is_bad_data() {
    let work = Workdir::new();
    let e = corrupt_run(&work, 4, Mutation::Set(0.607_343_642_613_854, 59));
    assert!(e.contains("values for"), "{e}");
}

/// Regression (found by `mutated_parquet_never_panics`): a line of bytes doubled near the end
/// of invoices.parquet (its footer) made polars' reader panic ("thrift bool field"), which
/// ended the run as an internal error; it is a corrupt file, named, exit 65.
#[test]
fn a_parquet_footer_that_panics_the_reader_is_bad_data() {
    let work = Workdir::new();
    let e = corrupt_run(&work, 1, Mutation::DoubleLine(0.980_019_324_146_766));
    assert!(e.contains("not a readable Parquet file"), "{e}");
    // the binary's panic hook lets the reader's panic be caught: exit 65, not 70
    let o = work.try_run("pipelines/sample.toml", Some(&work.path("x")), "out", &[]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(!stderr(&o).contains("internal error"), "{}", stderr(&o));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn mutated_csv_never_panics_and_every_row_is_counted(
        file in 0..TABLES.len(),
        mutations in proptest::collection::vec(mutation(), 1..8),
    ) {
        let work = Workdir::new();
        let x = work.copy_sample("iso", "x");
        let name = format!("{}.csv", TABLES[file]);
        let mut bytes = std::fs::read(x.join(&name)).unwrap();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        std::fs::write(x.join(&name), &bytes).unwrap();
        check_run(&job(&x, &work.path("out"), "pipelines/sample.toml"), &name)?;
    }

    #[test]
    fn mutated_parquet_never_panics(
        file in 0..TABLES.len(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let work = Workdir::new();
        let x = work.path("x");
        let name = parquet_sample(&x, file, &mutations);
        check_run(&job(&x, &work.path("out"), "pipelines/sample.toml"), &name)?;
    }

    #[test]
    fn mutated_pipeline_files_never_panic(
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = std::fs::read(repo().join("pipelines/sample.toml")).unwrap();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if let Ok(text) = String::from_utf8(bytes) {
            if let Err(problems) = Pipeline::from_toml(&text, Path::new(".")) {
                prop_assert!(!problems.is_empty());
            }
        }
    }
}
