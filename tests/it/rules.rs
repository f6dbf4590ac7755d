//! Each rule of the decision table, each quarantine reason and the month arithmetic, on the
//! hand-written records of the bundled sample extract (see sample-data/README.md).

use std::sync::OnceLock;

use polars::prelude::*;

use crate::support::*;

struct Sample {
    _work: Workdir,
    run: std::path::PathBuf,
    eligibility: DataFrame,
}

fn sample() -> &'static Sample {
    static S: OnceLock<Sample> = OnceLock::new();
    S.get_or_init(|| {
        let work = Workdir::new();
        let run = work.run_sample();
        let eligibility = dataset(&run, "eligibility");
        Sample {
            _work: work,
            run,
            eligibility,
        }
    })
}

fn check(customer: &str, category: &str, channel: &str, want: (bool, &str)) -> String {
    let (eligible, outcome, expires) =
        cell(&sample().eligibility, "D001", customer, category, channel);
    assert_eq!(
        (eligible, outcome.as_str()),
        want,
        "D001/{customer} {category}/{channel}"
    );
    expires
}

fn all_cells(customer: &str, want: (bool, &str)) {
    let df = &sample().eligibility;
    let mine = df
        .clone()
        .lazy()
        .filter(
            col("dealer_id")
                .cast(DataType::String)
                .eq(lit("D001"))
                .and(col("customer_id").eq(lit(customer))),
        )
        .collect()
        .unwrap();
    assert_eq!(mine.height(), 20, "a customer has 20 cells");
    let reasons = mine
        .column(if want.0 { "basis" } else { "reason" })
        .unwrap()
        .str()
        .unwrap()
        .clone();
    assert!(
        reasons.iter().all(|r| r == Some(want.1)),
        "{customer}: {:?}",
        reasons.iter().collect::<Vec<_>>()
    );
}

#[test]
fn rule_1_erasure() {
    all_cells("1007", (false, "erasure_requested"));
}

#[test]
fn rule_2_objection_beats_an_opt_in() {
    all_cells("1008", (false, "objected"));
}

#[test]
fn rule_3_restriction_in_any_case() {
    all_cells("1009", (false, "restricted"));
}

#[test]
fn rule_4_deceased() {
    all_cells("1010", (false, "deceased"));
}

#[test]
fn rule_5_retention_unless_an_opt_in() {
    all_cells("1011", (false, "retention_expired"));
    check("1012", "aftersales_service", "post", (true, "consent"));
    check("1012", "newsletter", "email", (false, "expired"));
}

#[test]
fn rule_6_opt_out_wildcard_and_tie() {
    all_cells("1005", (false, "opted_out"));
    // opt_in and opt_out recorded at the same instant (written in two time zones): opt_out
    check("1006", "sales_actions", "email", (false, "opted_out"));
    check("1006", "sales_actions", "post", (false, "opted_out"));
    check("1006", "newsletter", "post", (true, "term"));
    // a local time in the spring-forward gap, the same instant as 01:30Z
    check("1025", "aftersales_actions", "sms", (false, "opted_out"));
}

#[test]
fn rule_7_unreachable() {
    for channel in ["email", "sms", "app", "post", "phone"] {
        check(
            "1013",
            "aftersales_service",
            channel,
            (false, "unreachable"),
        );
    }
    check("1017", "aftersales_service", "post", (false, "unreachable"));
    check("1018", "aftersales_service", "post", (true, "term"));
    check("1016", "aftersales_service", "sms", (true, "term"));
}

#[test]
fn rule_8_do_not_call() {
    check(
        "1014",
        "aftersales_service",
        "phone",
        (false, "do_not_call"),
    );
    check("1014", "aftersales_service", "sms", (true, "term"));
}

#[test]
fn rule_9_opt_in_beats_do_not_call_and_term() {
    check("1015", "newsletter", "phone", (true, "consent"));
    check("1015", "sales_actions", "phone", (false, "do_not_call"));
    let expires = check("1002", "newsletter", "email", (true, "consent"));
    assert_eq!(expires, "2024-02-29", "2022-08-31 + 18 months");
    check("1020", "prospects", "email", (true, "consent"));
}

#[test]
fn rule_9a_the_law_makes_prospects_digital_cells_consent_only() {
    // the policy marks them explicit consent too, but rule 9a comes first
    check(
        "1019",
        "prospects",
        "email",
        (false, "consent_required_by_law"),
    );
    check(
        "1019",
        "prospects",
        "sms",
        (false, "consent_required_by_law"),
    );
    check("1019", "prospects", "post", (true, "term"));
    // and natural persons' calls since 2026-07-01, even customers'
    check(
        "1001",
        "newsletter",
        "phone",
        (false, "consent_required_by_law"),
    );
}

/// Rule 10: a cell the dealer's policy marks explicit consent, which no law does.
#[test]
fn rule_10_the_policy_asks_for_consent() {
    let work = Workdir::new();
    let pipeline = work.write(
        "p.toml",
        "[policy.explicit_consent]\nnewsletter = [\"sms\"]\nprospects = [\"email\", \"sms\", \"app\"]\n",
    );
    work.run(
        pipeline.to_str().unwrap(),
        &repo().join("sample-data/iso"),
        "out",
    );
    let df = dataset(&work.run_dir("out"), "eligibility");
    let (eligible, reason, expires) = cell(&df, "D001", "1001", "newsletter", "sms");
    assert_eq!((eligible, reason.as_str()), (false, "no_consent"));
    assert_eq!(
        expires, "2028-04-01",
        "undated: anchor + the policy's 18 months"
    );
    let (eligible, basis, _) = cell(&df, "D001", "1001", "newsletter", "email");
    assert_eq!((eligible, basis.as_str()), (true, "term"));
}

#[test]
fn rule_11_expired_on_the_day() {
    let expires = check("1003", "newsletter", "email", (false, "expired"));
    assert_eq!(
        expires, AS_OF,
        "2025-05-22 + 18 months is the as-of date: expired"
    );
    check("1003", "newsletter", "post", (true, "term"));
    check("1002", "aftersales_service", "post", (false, "expired"));
}

#[test]
fn rule_12_in_term() {
    let expires = check("1004", "newsletter", "email", (true, "term"));
    assert_eq!(expires, "2026-11-30");
    let expires = check("1022", "aftersales_service", "email", (true, "term"));
    assert_eq!(
        expires, "2028-02-29",
        "the latest invoice 2024-02-29 + 48 months"
    );
}

#[test]
fn prospects_have_five_cells_and_retention() {
    let df = &sample().eligibility;
    let p = df
        .clone()
        .lazy()
        .filter(col("customer_id").eq(lit("1021")))
        .collect()
        .unwrap();
    assert_eq!(p.height(), 5);
    assert!(p
        .column("relation")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .all(|r| r == Some("prospect")));
    all_prospect("1021", "retention_expired");
}

fn all_prospect(customer: &str, reason: &str) {
    for ch in ["email", "sms", "app", "post", "phone"] {
        check(customer, "prospects", ch, (false, reason));
    }
}

#[test]
fn retention_lists_erasures_and_expired_records() {
    let r = dataset(&sample().run, "retention");
    let rows: Vec<(String, String)> = r
        .column("customer_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .zip(r.column("reason").unwrap().str().unwrap().iter())
        .map(|(c, r)| (c.unwrap().to_string(), r.unwrap().to_string()))
        .collect();
    assert!(rows.contains(&("1007".into(), "erasure_requested".into())));
    assert!(rows.contains(&("1011".into(), "retention_expired".into())));
    assert!(rows.contains(&("1021".into(), "retention_expired".into())));
    assert!(
        !rows.iter().any(|(c, _)| c == "1012"),
        "an opt-in keeps 1012"
    );
}

#[test]
fn every_quarantine_reason_with_its_line() {
    let q = dataset(&sample().run, "quarantine");
    let has = |table: &str, reason: &str| {
        let n = q
            .clone()
            .lazy()
            .filter(
                col("table")
                    .eq(lit(table))
                    .and(col("reason").eq(lit(reason))),
            )
            .collect()
            .unwrap()
            .height();
        assert!(n > 0, "no {reason} in {table}");
    };
    for t in TABLES {
        has(t, "missing_value");
    }
    // the registers' values are text: nothing in them can be a bad value
    for t in &TABLES[..6] {
        has(t, "bad_value");
    }
    for t in ["customers", "invoices", "preferences", "requests"] {
        has(t, "future_date");
    }
    for t in ["invoices", "vehicles", "preferences", "requests"] {
        has(t, "unknown_customer");
    }
    for t in ["customers", "invoices", "vehicles"] {
        has(t, "duplicate_key");
    }
    // Line numbers are physical lines: customer 1024's street spans two lines.
    let file = repo().join("sample-data/iso/customers.csv");
    let line = line_of(&file, "D002;2904;");
    let row = q
        .clone()
        .lazy()
        .filter(
            col("table")
                .eq(lit("customers"))
                .and(col("line").eq(lit(line))),
        )
        .collect()
        .unwrap();
    assert_eq!(
        row.column("reason").unwrap().str().unwrap().get(0),
        Some("future_date")
    );
    let record = row.column("record").unwrap().str().unwrap().get(0).unwrap();
    assert!(record.contains("\"customer_id\":\"2904\""), "{record}");
    // both rows of a differing key duplicate
    let dup = q
        .clone()
        .lazy()
        .filter(
            col("table")
                .eq(lit("customers"))
                .and(col("reason").eq(lit("duplicate_key"))),
        )
        .collect()
        .unwrap();
    assert_eq!(dup.height(), 2);
}

#[test]
fn manifest_counts_add_up() {
    let m = manifest(&sample().run);
    for input in m["inputs"].as_array().unwrap() {
        let read = input["rows_read"].as_u64().unwrap();
        let valid = input["rows_valid"].as_u64().unwrap();
        let dups = input["exact_duplicates"].as_u64().unwrap();
        let q = quarantined(input);
        assert_eq!(read, valid + dups + q, "{}", input["table"]);
    }
    let cells: u64 = m["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cells"].as_u64().unwrap())
        .sum();
    assert_eq!(cells, m["outputs"]["eligibility"]["rows"].as_u64().unwrap());
    assert_eq!(cells as usize, sample().eligibility.height());
}
