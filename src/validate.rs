//! Validating one table: every row is either valid, an exact duplicate (counted once), or
//! quarantined with the first reason of the contract's order: `missing_value`, `bad_value`,
//! `future_date`, `unknown_customer`, `duplicate_key`.
//!
//! Takes a raw table and returns typed frames; it reads and writes no files. Valid rows come
//! out typed: dates as Date, timestamps as Int64 microseconds UTC, booleans, enumerations
//! lowercased, do_not_call numbers in E.164, and for tables that name a customer the record
//! index `rid` of that customer.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use crate::contact;
use crate::error::Result;
use crate::policy::Recipient;
use crate::read::RawTable;
use crate::schema::{CustomerRef, Kind, Quarantine, CATEGORIES, CHANNELS, REQUEST_KINDS, STATUSES};
use crate::values::{self, DateFormat};

/// What validation needs to know about the run.
pub struct Context<'a> {
    pub as_of: NaiveDate,
    pub date_format: &'a DateFormat,
}

/// The valid customer records, by (dealer_id, customer_id), to their record index.
#[derive(Default)]
pub struct CustomerIndex {
    map: PlHashMap<String, PlHashMap<String, u32>>,
}

impl CustomerIndex {
    /// Indexes the valid `customers` frame; record index = row number in that frame.
    pub fn new(customers: &DataFrame) -> Result<CustomerIndex> {
        let dealers = customers.column("dealer_id")?.str()?;
        let ids = customers.column("customer_id")?.str()?;
        let mut map: PlHashMap<String, PlHashMap<String, u32>> = PlHashMap::default();
        for (rid, (d, c)) in dealers.iter().zip(ids.iter()).enumerate() {
            if let (Some(d), Some(c)) = (d, c) {
                map.entry(d.to_string())
                    .or_default()
                    .insert(c.to_string(), rid as u32);
            }
        }
        Ok(CustomerIndex { map })
    }

    /// The record of each (dealer, customer); rows of one dealer often come together, so the
    /// last dealer's records are looked up first.
    fn find(&self, keys: &[(Option<&str>, Option<&str>)]) -> Vec<Option<u32>> {
        let mut last: Option<(&str, Option<&PlHashMap<String, u32>>)> = None;
        keys.iter()
            .map(|&(d, c)| {
                let (d, c) = (d?, c?);
                let records = match last {
                    Some((l, records)) if l == d => records,
                    _ => last.insert((d, self.map.get(d))).1,
                };
                records?.get(c).copied()
            })
            .collect()
    }
}

/// Row counts of one input table, for the manifest and the summary.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TableStats {
    pub rows_read: u64,
    pub rows_valid: u64,
    pub exact_duplicates: u64,
    pub quarantined: BTreeMap<&'static str, u64>,
}

impl TableStats {
    pub fn quarantined_total(&self) -> u64 {
        self.quarantined.values().sum()
    }

    /// Adds the counts of another part of the same table.
    pub fn add(&mut self, other: &TableStats) {
        self.rows_read += other.rows_read;
        self.rows_valid += other.rows_valid;
        self.exact_duplicates += other.exact_duplicates;
        for (reason, n) in &other.quarantined {
            *self.quarantined.entry(reason).or_insert(0) += n;
        }
    }
}

/// A validated table.
pub struct Checked {
    /// `line`, `rid` (tables that name a customer) and every contract column, typed.
    pub valid: DataFrame,
    /// `table`, `line`, `reason`, `record` (the row as JSON, header names as written).
    pub quarantine: DataFrame,
    pub stats: TableStats,
}

/// Validates `raw`; `customers` must be given for every table that names a customer. The
/// valid rows keep the columns `keep` names (all when `None`).
pub fn check(
    raw: &RawTable,
    ctx: &Context,
    customers: Option<&CustomerIndex>,
    keep: Option<&[&str]>,
) -> Result<Checked> {
    let table = raw.source.table;
    let rows_read = raw.df.height() as u64;

    // Exact duplicates first: the first copy keeps its line, the others are set aside (and
    // take no part in any check below).
    let (set_aside, key_repeats) = exact_duplicates(raw)?;
    let exact_duplicates = set_aside.iter().filter(|d| **d).count() as u64;
    let n = raw.df.height();

    // missing_value, bad_value, future_date: columns in parallel, the earliest reason wins.
    let per_column: Vec<(Column, Vec<Option<Quarantine>>)> = table
        .columns()
        .par_iter()
        .map(|spec| {
            let col = raw.column(spec.name);
            let mut flags: Vec<Option<Quarantine>> = vec![None; n];
            if let (true, Some(col)) = (spec.required, col) {
                for (r, missing) in flags.iter_mut().zip(col.is_null().iter()) {
                    if missing == Some(true) {
                        *r = Some(Quarantine::MissingValue);
                    }
                }
            }
            let dated = table.dated_by() == Some(spec.name);
            let out = parse_column(col, spec.kind, n, ctx, dated, &mut flags)?;
            Ok((out.with_name(spec.name.into()), flags))
        })
        .collect::<Result<_>>()?;
    let mut reasons: Vec<Option<Quarantine>> = vec![None; n];
    let mut parsed = vec![raw.df.column("line")?.clone()];
    for (col, flags) in per_column {
        for (r, f) in reasons.iter_mut().zip(flags) {
            if let Some(q) = f {
                flag(r, q);
            }
        }
        parsed.push(col);
    }

    // unknown_customer: the record named must be among the valid customers.
    if table.customer_ref() != CustomerRef::None {
        let index = customers.expect("tables that name a customer are checked after customers");
        let dealer = parsed_str(&parsed, "dealer_id")?;
        let customer = parsed_str(&parsed, "customer_id")?;
        let keys: Vec<(Option<&str>, Option<&str>)> = dealer.iter().zip(customer.iter()).collect();
        let found: Vec<Option<u32>> = keys
            .par_chunks(1 << 14)
            .flat_map_iter(|chunk| index.find(chunk))
            .collect();
        for ((d, c), (rid, r)) in keys.iter().zip(found.iter().zip(reasons.iter_mut())) {
            // a vehicle without an owner; a missing required id is already missing_value
            if d.is_some() && c.is_some() && rid.is_none() {
                flag(r, Quarantine::UnknownCustomer);
            }
        }
        let rids: UInt32Chunked = found.into_iter().collect();
        parsed.push(rids.with_name("rid".into()).into_column());
    }

    // duplicate_key: among the rows that passed every other check, a key held by two or
    // more (differing) rows quarantines all of them.
    let key = table.key();
    if !key.is_empty() {
        let cols: Vec<StringChunked> = key
            .iter()
            .map(|k| parsed_str(&parsed, k).cloned())
            .collect::<Result<_>>()?;
        // a key that repeats among these rows repeats among all: only those rows are compared
        let clean_rows: Vec<bool> = reasons
            .iter()
            .zip(&set_aside)
            .zip(&key_repeats)
            .map(|((r, a), k)| r.is_none() && !a && *k)
            .collect();
        if clean_rows.iter().any(|c| *c) {
            for (r, dup) in reasons.iter_mut().zip(repeated(&cols, &clean_rows)) {
                if dup {
                    flag(r, Quarantine::DuplicateKey);
                }
            }
        }
    }

    let mut parsed = DataFrame::new(n, parsed)?;
    if let Some(keep) = keep {
        parsed = parsed.select(keep.iter().copied())?;
    }
    for (r, aside) in reasons.iter_mut().zip(&set_aside) {
        if *aside {
            *r = None;
        }
    }
    let is_valid: BooleanChunked = reasons
        .iter()
        .zip(&set_aside)
        .map(|(r, aside)| r.is_none() && !aside)
        .collect();
    let valid = parsed.filter(&is_valid)?;
    let quarantine = quarantine_frame(raw, &reasons)?;

    let mut quarantined = BTreeMap::new();
    for r in reasons.iter().flatten() {
        *quarantined.entry(r.code()).or_insert(0) += 1;
    }
    let stats = TableStats {
        rows_read,
        rows_valid: valid.height() as u64,
        exact_duplicates,
        quarantined,
    };
    Ok(Checked {
        valid,
        quarantine,
        stats,
    })
}

/// Which rows equal an earlier row in every file column, and which rows' key (in a keyed
/// table) any other row holds too. Equal rows share their key, so in a keyed table only the
/// rows whose key repeats are compared whole.
fn exact_duplicates(raw: &RawTable) -> Result<(Vec<bool>, Vec<bool>)> {
    let n = raw.df.height();
    let all: Vec<String> = raw
        .file_columns()
        .iter()
        .map(PlSmallStr::to_string)
        .collect();
    let key: Vec<StringChunked> = raw
        .source
        .table
        .key()
        .iter()
        .filter_map(|k| raw.column(k).map(as_text))
        .collect::<Result<_>>()?;
    let key_repeats = if key.is_empty() {
        vec![true; n]
    } else {
        repeated(&key, &vec![true; n])
    };
    if !key_repeats.contains(&true) {
        return Ok((vec![false; n], key_repeats));
    }
    let candidates: BooleanChunked = key_repeats.iter().map(|k| Some(*k)).collect();
    let first =
        raw.df
            .filter(&candidates)?
            .unique_stable(Some(&all), UniqueKeepStrategy::First, None)?;
    let first: PlHashSet<i64> = first.column("line")?.i64()?.iter().flatten().collect();
    let set_aside = key_repeats
        .iter()
        .zip(raw.lines().iter())
        .map(|(k, line)| *k && !line.is_some_and(|l| first.contains(&l)))
        .collect();
    Ok((set_aside, key_repeats))
}

/// Which rows hold values (in `cols`, a null equal to a null) that two or more of the rows
/// `among` allows hold. Hashes are sorted rather than grouped: 12 bytes a row.
fn repeated(cols: &[StringChunked], among: &[bool]) -> Vec<bool> {
    use std::hash::{BuildHasher, Hash, Hasher};
    let state = PlRandomState::default();
    let mut row_hash: Vec<u64> = vec![0; among.len()];
    for c in cols {
        for (h, v) in row_hash.iter_mut().zip(c.iter()) {
            let mut hasher = state.build_hasher();
            h.hash(&mut hasher);
            v.hash(&mut hasher);
            *h = hasher.finish();
        }
    }
    let mut pairs: Vec<(u64, u32)> = row_hash
        .into_iter()
        .enumerate()
        .filter(|(i, _)| among[*i])
        .map(|(i, h)| (h, i as u32))
        .collect();
    pairs.par_sort_unstable();
    let values = |i: u32| -> Vec<Option<&str>> { cols.iter().map(|c| c.get(i as usize)).collect() };
    let mut out = vec![false; among.len()];
    for run in pairs.chunk_by(|a, b| a.0 == b.0).filter(|r| r.len() > 1) {
        // equal hashes: compare the values themselves
        let mut rows: Vec<(Vec<Option<&str>>, u32)> =
            run.iter().map(|&(_, i)| (values(i), i)).collect();
        rows.sort_unstable();
        for same in rows.chunk_by(|a, b| a.0 == b.0).filter(|g| g.len() > 1) {
            for (_, i) in same {
                out[*i as usize] = true;
            }
        }
    }
    out
}

fn flag(r: &mut Option<Quarantine>, q: Quarantine) {
    *r = Some(r.map_or(q, |x| x.min(q)));
}

fn parsed_str<'a>(cols: &'a [Column], name: &str) -> Result<&'a StringChunked> {
    let c = cols
        .iter()
        .find(|c| c.name() == name)
        .expect("contract column");
    Ok(c.str()?)
}

/// Parses one contract column (or an all-null one when the file lacks it), flagging
/// `bad_value` and, for the table's date column, `future_date`.
fn parse_column(
    col: Option<&Column>,
    kind: Kind,
    n: usize,
    ctx: &Context,
    dated: bool,
    reasons: &mut [Option<Quarantine>],
) -> Result<Column> {
    let Some(col) = col else {
        let dtype = match kind {
            Kind::Date => DataType::Date,
            Kind::Timestamp => DataType::Int64,
            Kind::Bool => {
                return Ok(BooleanChunked::full("".into(), false, n).into_column());
            }
            _ => DataType::String,
        };
        return Ok(Column::full_null("".into(), n, &dtype));
    };
    let mut bad = |i: usize, q: Quarantine| flag(&mut reasons[i], q);
    let out = match kind {
        Kind::Text | Kind::Decimal => {
            let text = as_text(col)?;
            if kind == Kind::Decimal {
                for (i, v) in text.iter().enumerate() {
                    if v.is_some_and(|v| !values::is_decimal(v)) {
                        bad(i, Quarantine::BadValue);
                    }
                }
            }
            text.into_column()
        }
        Kind::Date => {
            let days: Int32Chunked = match col.dtype() {
                DataType::Date => col.date()?.physical().clone(),
                DataType::Datetime(_, _) => col.cast(&DataType::Date)?.date()?.physical().clone(),
                _ => {
                    let text = as_text(col)?;
                    text.iter()
                        .enumerate()
                        .map(|(i, v)| {
                            let v = v?;
                            let d = ctx.date_format.date(v);
                            if d.is_none() {
                                bad(i, Quarantine::BadValue);
                            }
                            d.map(values::epoch_days)
                        })
                        .collect()
                }
            };
            if dated {
                let limit = values::epoch_days(ctx.as_of);
                for (i, d) in days.iter().enumerate() {
                    if d.is_some_and(|d| d > limit) {
                        bad(i, Quarantine::FutureDate);
                    }
                }
            }
            days.into_date().into_column()
        }
        Kind::Timestamp => {
            let micros = timestamp_micros(col, ctx.date_format, &mut bad)?;
            if dated {
                let limit = values::day_after_micros(ctx.as_of);
                for (i, t) in micros.iter().enumerate() {
                    if t.is_some_and(|t| t >= limit) {
                        bad(i, Quarantine::FutureDate);
                    }
                }
            }
            micros.into_column()
        }
        Kind::Bool => {
            let b: BooleanChunked = match col.dtype() {
                DataType::Boolean => col.bool()?.fill_null_with_values(false)?,
                _ => as_text(col)?
                    .iter()
                    .enumerate()
                    .map(|(i, v)| match v {
                        None => Some(false),
                        Some(v) => {
                            let b = values::boolean(v);
                            if b.is_none() {
                                bad(i, Quarantine::BadValue);
                            }
                            b
                        }
                    })
                    .collect(),
            };
            b.into_column()
        }
        Kind::Category | Kind::Channel | Kind::Status | Kind::RequestKind | Kind::RecipientKind => {
            let cats: Vec<&str> = CATEGORIES.iter().copied().chain(["*"]).collect();
            let chans: Vec<&str> = CHANNELS.iter().copied().chain(["*"]).collect();
            let words: &[&str] = match kind {
                Kind::Category => &cats,
                Kind::Channel => &chans,
                Kind::Status => &STATUSES,
                Kind::RecipientKind => &Recipient::KINDS,
                _ => &REQUEST_KINDS,
            };
            map_text(col, |i, v| {
                let w = values::word(v, words);
                if w.is_none() {
                    bad(i, Quarantine::BadValue);
                }
                w.map(str::to_string)
            })?
        }
        Kind::Phone => map_text(col, |i, v| {
            let p = contact::phone(v);
            if p.is_none() {
                bad(i, Quarantine::BadValue);
            }
            p.map(|p| p.e164)
        })?,
    };
    Ok(out)
}

fn as_text(col: &Column) -> Result<StringChunked> {
    Ok(match col.dtype() {
        DataType::String => col.str()?.clone(),
        _ => col.cast(&DataType::String)?.str()?.clone(),
    })
}

fn map_text(col: &Column, mut f: impl FnMut(usize, &str) -> Option<String>) -> Result<Column> {
    let text = as_text(col)?;
    let out: StringChunked = text
        .iter()
        .enumerate()
        .map(|(i, v)| v.and_then(|v| f(i, v)))
        .collect();
    Ok(out.into_column())
}

/// Timestamps as µs UTC: text by the contract's grammar; a Parquet timestamp with a zone is
/// an instant, one without is Europe/Amsterdam wall-clock time; a Parquet date is midnight.
fn timestamp_micros(
    col: &Column,
    fmt: &DateFormat,
    bad: &mut impl FnMut(usize, Quarantine),
) -> Result<Int64Chunked> {
    Ok(match col.dtype() {
        DataType::Datetime(unit, tz) => {
            let per_us = match unit {
                TimeUnit::Nanoseconds => 1_000,
                TimeUnit::Microseconds => 1,
                TimeUnit::Milliseconds => -1_000,
            };
            let raw = col.datetime()?.physical().clone();
            raw.iter()
                .map(|v| {
                    let us = match per_us {
                        -1_000 => v? * 1_000,
                        k => v?.div_euclid(k),
                    };
                    if tz.is_some() {
                        Some(us)
                    } else {
                        let naive = chrono::DateTime::from_timestamp_micros(us)?.naive_utc();
                        Some(values::amsterdam_to_utc(naive).and_utc().timestamp_micros())
                    }
                })
                .collect()
        }
        DataType::Date => col
            .date()?
            .physical()
            .iter()
            .map(|d| {
                let midnight = values::from_epoch_days(d?).and_time(chrono::NaiveTime::MIN);
                Some(
                    values::amsterdam_to_utc(midnight)
                        .and_utc()
                        .timestamp_micros(),
                )
            })
            .collect(),
        _ => as_text(col)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let v = v?;
                let t = values::timestamp_micros(v, fmt);
                if t.is_none() {
                    bad(i, Quarantine::BadValue);
                }
                t
            })
            .collect(),
    })
}

/// The quarantined rows: table, line, reason and the row as JSON with the header's names.
fn quarantine_frame(raw: &RawTable, reasons: &[Option<Quarantine>]) -> Result<DataFrame> {
    let idx: Vec<IdxSize> = (0..reasons.len() as IdxSize)
        .filter(|&i| reasons[i as usize].is_some())
        .collect();
    let rows = raw.df.take(&IdxCa::from_vec("i".into(), idx.clone()))?;
    let lines = rows.column("line")?.i64()?.clone();
    let cols: Vec<StringChunked> = raw
        .file_columns()
        .iter()
        .map(|c| {
            rows.column(c)
                .and_then(|c| c.cast(&DataType::String))
                .map(|c| c.str().cloned())
        })
        .collect::<PolarsResult<PolarsResult<Vec<_>>>>()??;
    let records: StringChunked = (0..rows.height())
        .map(|r| {
            let fields: Vec<String> = raw
                .header
                .iter()
                .zip(&cols)
                .map(|(h, c)| {
                    let v = c.get(r).map_or(serde_json::Value::Null, Into::into);
                    format!("{}:{}", serde_json::Value::from(h.as_str()), v)
                })
                .collect();
            Some(format!("{{{}}}", fields.join(",")))
        })
        .collect();
    let reason: StringChunked = idx
        .iter()
        .map(|&i| reasons[i as usize].map(Quarantine::code))
        .collect();
    let table = raw.source.table.name();
    Ok(DataFrame::new(
        rows.height(),
        vec![
            Column::new("table".into(), vec![table; rows.height()]),
            lines.into_column(),
            reason.with_name("reason".into()).into_column(),
            records.with_name("record".into()).into_column(),
        ],
    )?)
}

/// `check` for a table read from memory, for tests.
#[cfg(test)]
pub(crate) fn check_rows(
    table: crate::schema::Table,
    header: &[&str],
    rows: &[&[&str]],
    as_of: &str,
    customers: Option<&CustomerIndex>,
) -> Checked {
    let fmt = DateFormat::iso();
    let ctx = Context {
        as_of: NaiveDate::parse_from_str(as_of, "%Y-%m-%d").unwrap(),
        date_format: &fmt,
    };
    let raw = crate::read::raw_from_rows(table, header, rows);
    check(&raw, &ctx, customers, None).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Table;

    fn reasons(c: &Checked) -> Vec<(i64, String)> {
        let q = &c.quarantine;
        let lines = q.column("line").unwrap().i64().unwrap();
        let reasons = q.column("reason").unwrap().str().unwrap();
        let mut v: Vec<(i64, String)> = lines
            .iter()
            .zip(reasons.iter())
            .map(|(l, r)| (l.unwrap(), r.unwrap().to_string()))
            .collect();
        v.sort();
        v
    }

    const CUST: &[&str] = &["dealer_id", "customer_id", "registered_on", "deceased"];

    #[test]
    fn customer_reasons_and_precedence() {
        let c = check_rows(
            Table::Customers,
            CUST,
            &[
                &["D1", "1", "2020-01-01", ""],     // 2 valid
                &["D1", "", "2020-01-01", ""],      // 3 missing
                &["D1", "3", "01-01-2020", ""],     // 4 bad date
                &["D1", "4", "2020-01-01", "soms"], // 5 bad bool
                &["D1", "5", "2030-01-01", ""],     // 6 future
                &["D1", "6", "2020-01-01", ""],     // 7 key dup with 8
                &["D1", "6", "2020-01-02", ""],     // 8
                &["D1", "1", "2020-01-01", ""],     // 9 exact copy of 2: counted once
                &["D1", "", "2030-99-01", "x"],     // 10 missing beats bad
                &["D1", "7", "2030-01-01", ""],     // 11 future, shares key with 12
                &["D1", "7", "2020-01-01", ""],     // 12 valid: 11 did not pass its checks
            ],
            "2024-06-30",
            None,
        );
        assert_eq!(
            reasons(&c),
            vec![
                (3, "missing_value".into()),
                (4, "bad_value".into()),
                (5, "bad_value".into()),
                (6, "future_date".into()),
                (7, "duplicate_key".into()),
                (8, "duplicate_key".into()),
                (10, "missing_value".into()),
                (11, "future_date".into()),
            ]
        );
        assert_eq!(c.stats.rows_read, 11);
        assert_eq!(c.stats.exact_duplicates, 1);
        assert_eq!(c.stats.rows_valid, 2);
    }

    #[test]
    fn unknown_customer_needs_a_valid_record() {
        let cust = check_rows(
            Table::Customers,
            CUST,
            &[
                &["D1", "1", "2020-01-01", ""],
                &["D1", "2", "2020-01-01", ""],
                &["D1", "2", "2020-02-01", ""],
            ],
            "2024-06-30",
            None,
        );
        let index = CustomerIndex::new(&cust.valid).unwrap();
        let inv = check_rows(
            Table::Invoices,
            &[
                "dealer_id",
                "invoice_id",
                "customer_id",
                "invoice_date",
                "amount",
            ],
            &[
                &["D1", "I1", "1", "2024-01-01", "12,50"],   // valid
                &["D2", "I2", "1", "2024-01-01", ""],        // other dealer: unknown
                &["D1", "I3", "2", "2024-01-01", ""], // customer 2 is a key duplicate: unknown
                &["D1", "I4", "1", "2024-01-01", "1.234,5"], // bad amount
                &["D1", "I5", "9", "2025-01-01", ""], // future beats unknown
            ],
            "2024-06-30",
            Some(&index),
        );
        assert_eq!(
            reasons(&inv),
            vec![
                (3, "unknown_customer".into()),
                (4, "unknown_customer".into()),
                (5, "bad_value".into()),
                (6, "future_date".into())
            ]
        );
        let veh = check_rows(
            Table::Vehicles,
            &["dealer_id", "vehicle_id", "customer_id"],
            &[&["D1", "V1", ""], &["D1", "V2", "9"], &["D1", "V3", "1"]],
            "2024-06-30",
            Some(&index),
        );
        assert_eq!(reasons(&veh), vec![(3, "unknown_customer".into())]);
    }

    #[test]
    fn enumerations_timestamps_and_phones() {
        let cust = check_rows(
            Table::Customers,
            CUST,
            &[&["D1", "1", "2020-01-01", ""]],
            "2024-06-30",
            None,
        );
        let index = CustomerIndex::new(&cust.valid).unwrap();
        let p = check_rows(
            Table::Preferences,
            &[
                "dealer_id",
                "customer_id",
                "category",
                "channel",
                "status",
                "recorded_at",
            ],
            &[
                &[
                    "D1",
                    "1",
                    " Newsletter ",
                    "EMAIL",
                    "Opt_In",
                    "2024-01-01 10:00",
                ],
                &["D1", "1", "marketing", "email", "opt_in", "2024-01-01"],
                &["D1", "1", "*", "fax", "opt_in", "2024-01-01"],
                &["D1", "1", "*", "*", "ja", "2024-01-01"],
                &["D1", "1", "*", "*", "opt_out", "01-01-2024 10:00"],
                &["D1", "1", "*", "*", "opt_out", "2024-06-30T23:59:59"],
                &["D1", "1", "*", "*", "opt_out", "2024-06-30T22:00:00Z"], // 1 July 00:00 in Amsterdam
            ],
            "2024-06-30",
            Some(&index),
        );
        assert_eq!(
            reasons(&p),
            vec![
                (3, "bad_value".into()),
                (4, "bad_value".into()),
                (5, "bad_value".into()),
                (6, "bad_value".into()),
                (8, "future_date".into())
            ]
        );
        let cat = p.valid.column("category").unwrap().str().unwrap();
        assert_eq!(cat.get(0), Some("newsletter"));

        let dnc = check_rows(
            Table::DoNotCall,
            &["phone"],
            &[&["06-12345678"], &["+31 6 1234 5678"], &["geen"], &[""]],
            "2024-06-30",
            None,
        );
        assert_eq!(
            reasons(&dnc),
            vec![(4, "bad_value".into()), (5, "missing_value".into())]
        );
        let e164 = dnc.valid.column("phone").unwrap().str().unwrap();
        assert_eq!(e164.get(1), Some("+31612345678"));
    }
}
