//! `expiring/`: the eligible cells whose term ends within N days after the as-of date.

use polars::prelude::*;

use crate::support::*;

/// `expiring/` is exactly the term-based eligible cells of `eligibility/` with `expires_on`
/// in (as-of, as-of + N], derived here again with polars; N comes from the pipeline file.
#[test]
fn expiring_lists_the_term_cells_that_end_within_n_days() {
    let work = Workdir::new();
    let x = work.path("x");
    assert_ok(&work.cmd(&[
        "generate",
        "--customers",
        "3000",
        "--dealers",
        "12",
        "--seed",
        "9",
        "--as-of",
        AS_OF,
        "--out",
        x.to_str().unwrap(),
    ]));
    let as_of = chrono::NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap();
    for days in [30, 200] {
        let pipeline = work.write(
            &format!("p{days}.toml"),
            &format!("[output]\nexpiring_days = {days}\n"),
        );
        let out = format!("out{days}");
        work.run(pipeline.to_str().unwrap(), &x, &out);
        let run = work.run_dir(&out);
        let from = lit(as_of);
        let to = lit(as_of + chrono::Duration::days(days));
        let expected = dataset(&run, "eligibility")
            .lazy()
            .filter(
                col("eligible")
                    .and(col("basis").eq(lit("term")))
                    .and(col("expires_on").gt(from.clone()))
                    .and(col("expires_on").lt_eq(to)),
            )
            .select([
                col("customer_id"),
                col("source"),
                col("relation"),
                col("category"),
                col("channel"),
                col("anchor_date"),
                col("expires_on"),
                col("law"),
                (col("expires_on") - from)
                    .dt()
                    .total_days(false)
                    .cast(DataType::Int32)
                    .alias("days_left"),
                col("dealer_id"),
            ])
            .collect()
            .unwrap();
        let got = dataset(&run, "expiring");
        let cols: Vec<PlSmallStr> = got.get_column_names().into_iter().cloned().collect();
        let expected = expected
            .select(cols.clone())
            .unwrap()
            .sort(cols, SortMultipleOptions::default().with_nulls_last(true))
            .unwrap();
        assert!(expected.height() > 10, "{days} days: some cells expire");
        assert!(
            got.equals_missing(&expected),
            "{days} days:\n{got}\n{expected}"
        );
        assert_eq!(
            manifest(&run)["outputs"]["expiring"]["rows"].as_u64(),
            Some(got.height() as u64)
        );
    }
}
