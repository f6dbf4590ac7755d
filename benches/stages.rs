//! Criterion benches of each stage (read, validate, join, decide, write) on an extract made by
//! the project's own generator: `cargo bench --bench stages`. Throughput is in rows (cells
//! for decide and write). BENCH_CUSTOMERS sets the size (default 50,000 records).

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use eligibility::pipeline::CsvOptions;
use eligibility::policy::{Law, Policy};
use eligibility::progress::Progress;
use eligibility::read::{self, RawTable, Source};
use eligibility::records::{self, Outside, Valid};
use eligibility::schema::Table;
use eligibility::validate::{self, Checked, Context, CustomerIndex};
use eligibility::{audience, cells, generate, write};

fn stages(c: &mut Criterion) {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 22).expect("a date");
    let customers = std::env::var("BENCH_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let quiet = Progress::new(true);
    let spec = generate::Spec {
        customers,
        dealers: None,
        seed: 1,
        parquet: false,
        as_of,
        out: dir.path().join("x"),
    };
    generate::generate(&spec, &quiet).expect("generate");

    let csv = CsvOptions::default();
    let sources = read::discover(&spec.out).expect("extract");
    let source =
        |t: Table| -> &Source { sources.iter().find(|s| s.table == t).expect("every table") };
    let raw = |t: Table| -> RawTable { read::read(source(t), &csv, &quiet).expect("read") };
    let ctx = Context {
        as_of,
        date_format: &csv.date_format,
    };

    let mut g = c.benchmark_group("stages");
    g.sample_size(10);

    let invoices = raw(Table::Invoices);
    g.throughput(Throughput::Elements(invoices.df.height() as u64));
    g.bench_function("read invoices.csv", |b| {
        b.iter(|| black_box(raw(Table::Invoices)));
    });

    let customers = validate::check(&raw(Table::Customers), &ctx, None, None).expect("customers");
    let index = CustomerIndex::new(&customers.valid).expect("index");
    let keep = records::columns_used(Table::Invoices);
    g.bench_function("validate invoices", |b| {
        b.iter(|| black_box(validate::check(&invoices, &ctx, Some(&index), keep).expect("check")));
    });

    let check = |t: Table| -> Checked {
        validate::check(&raw(t), &ctx, Some(&index), records::columns_used(t)).expect("check")
    };
    let (inv, veh, prefs, reqs) = (
        check(Table::Invoices),
        check(Table::Vehicles),
        check(Table::Preferences),
        check(Table::Requests),
    );
    let whole: Vec<(Table, Checked)> =
        [Table::DoNotCall, Table::Postfilter, Table::DeceasedRegister]
            .into_iter()
            .map(|t| (t, check(t)))
            .collect();
    let outside = Outside::new(
        &whole
            .iter()
            .map(|(t, c)| (*t, &c.valid))
            .collect::<Vec<_>>(),
    )
    .expect("outside");
    let valid = Valid {
        customers: &customers.valid,
        invoices: &inv.valid,
        vehicles: Some(&veh.valid),
        preferences: Some(&prefs.valid),
        requests: Some(&reqs.valid),
        outside: &outside,
    };
    g.throughput(Throughput::Elements(customers.valid.height() as u64));
    g.bench_function("join", |b| {
        b.iter(|| black_box(records::build(&valid).expect("join")));
    });

    let joined = records::build(&valid).expect("join");
    let order = cells::sorted_records(&joined);
    let policy = Policy::default();
    let law = Law::built_in();
    let at = law.at(as_of);
    let decided = cells::decide_cells(&joined, &order, &policy, &at);
    let (cells_df, _) = cells::eligibility(&joined, &decided, &law).expect("frame");
    g.throughput(Throughput::Elements(cells_df.height() as u64));
    g.bench_function("decide", |b| {
        b.iter(|| {
            let decided = cells::decide_cells(&joined, &order, &policy, &at);
            black_box(cells::eligibility(&joined, &decided, &law).expect("frame"))
        });
    });
    g.bench_function("audiences", |b| {
        let per_vehicle = eligibility::pipeline::Mailing::default_per_vehicle();
        b.iter(|| {
            black_box(
                audience::audiences(&joined, &decided, &law, &per_vehicle, false)
                    .expect("audiences"),
            )
        });
    });

    let out = dir.path().join("out");
    g.bench_function("write eligibility", |b| {
        b.iter_batched(
            || {
                (
                    write::RunDir::begin(&out, as_of).expect("run dir"),
                    cells_df.clone(),
                )
            },
            |(run, mut df)| run.part("eligibility", None, &mut df, None).expect("write"),
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
