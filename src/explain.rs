//! `explain`: one customer record, every cell, why. Reads the same extract as `run`, keeps
//! the dealer's rows, and validates, joins and decides them with the same functions
//! (`validate::check`, `records::build`, `policy::decide_record`), so it agrees with `run` by
//! construction: a dealer's decisions never depend on another dealer's rows.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;

use crate::audience::{self, ContactPoint, Fields};
use crate::contact;
use crate::error::{Error, Result};
use crate::policy::preferences::{self, Preference as Pref};
use crate::policy::{decide_record, Channel, Decided, Decision, Law, Terms, Verdict};
use crate::progress::Progress;
use crate::read::{self, file_name};
use crate::records::{Outside, Records};
use crate::route;
use crate::run::{self, Job};
use crate::schema::Table;
use crate::validate::Context;
use crate::values::{clean, from_epoch_days};

/// One dealer's rows of the extract, validated and joined.
pub struct Dealer {
    pub dealer: String,
    as_of: NaiveDate,
    terms: Terms,
    law: Law,
    records: Records,
    valid: BTreeMap<Table, DataFrame>,
    /// (table, file name, quarantined rows)
    quarantine: Vec<(Table, String, DataFrame)>,
    outside: Outside,
}

/// Reads the extract of `job` and keeps what concerns `dealer` (and the whole do_not_call
/// list and registers).
pub fn load(job: &Job, dealer: &str, progress: &Progress) -> Result<Dealer> {
    let mut sources: Vec<read::Source> = run::check_extract(job)?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    sources.sort_by_key(|s| s.table);
    let csv = &job.pipeline.csv;
    let ctx = Context {
        as_of: job.as_of,
        date_format: &csv.date_format,
    };
    let (whole, sources): (Vec<read::Source>, Vec<read::Source>) =
        sources.into_iter().partition(|s| !s.table.has_dealer());
    let mut files: BTreeMap<Table, String> = BTreeMap::new();
    let (outside, _, _) = run::check_outside(&whole, csv, &ctx, progress)?;
    // only the dealer's rows, split out as a run splits the extract (into the dealer's bucket
    // of `BUCKETS`; the other buckets' rows are read and dropped): a dealer's decisions never
    // depend on another dealer's rows, and memory holds a bucket, not the extract
    let spill = Scratch::new()?;
    let bucket = route::Split::all(BUCKETS).bucket(Some(dealer)).unwrap_or(0);
    let split = route::Split {
        keep: Some(bucket),
        ..route::Split::all(BUCKETS)
    };
    let routed = route::route(
        &sources,
        csv,
        split,
        spill.0.path(),
        progress,
        route::PIECE_BYTES,
    )?;
    let tables = routed.iter().map(|r| {
        let s = &r.source;
        files.insert(s.table, file_name(&s.path));
        let mut raw = route::load(r, bucket)?;
        let ids = raw
            .column("dealer_id")
            .ok_or_else(|| Error::Internal(format!("{}: no dealer_id", s.path.display())))?
            .str()?;
        let mine: BooleanChunked = ids
            .iter()
            .map(|d| d.and_then(clean) == Some(dealer))
            .collect();
        raw.df = raw.df.filter(&mine)?;
        Ok(raw)
    });
    let joined = run::check_and_join(tables, &ctx, &outside, true)?;
    let quarantine = joined
        .quarantine
        .into_iter()
        .map(|(t, q)| (t, files.get(&t).cloned().unwrap_or_default(), q))
        .collect();
    Ok(Dealer {
        dealer: dealer.to_string(),
        as_of: job.as_of,
        terms: job.pipeline.policy.for_dealer(dealer).clone(),
        law: job.pipeline.law.clone(),
        records: joined.records,
        valid: joined.valid,
        quarantine,
        outside,
    })
}

/// The buckets `load` splits the extract into, keeping one.
const BUCKETS: usize = crate::pipeline::MAX_BUCKETS;

/// A folder for the dealer's bucket files (personal data): a fresh, owner-only folder under
/// the system's temporary folder, removed when dropped.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Result<Scratch> {
        tempfile::Builder::new()
            .prefix(".eligibility-explain-")
            .tempdir()
            .map(Scratch)
            .map_err(|e| Error::Output {
                path: std::env::temp_dir(),
                source: e,
            })
    }
}

/// Everything `explain` tells about one customer record.
#[derive(Debug, Serialize)]
pub struct Explanation {
    pub dealer_id: String,
    pub customer_id: String,
    pub as_of: String,
    /// `None` when the record has no valid customers row (it is quarantined).
    pub record: Option<Record>,
    /// Rows of any table that name this record and were quarantined.
    pub quarantined: Vec<Quarantined>,
}

#[derive(Debug, Serialize)]
pub struct Quarantined {
    pub table: &'static str,
    pub file: String,
    pub line: i64,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct Record {
    pub relation: &'static str,
    pub source: String,
    pub anchor_date: String,
    /// The last valid invoice (a customer), or `None`: the anchor is `registered_on`.
    pub anchor_invoice: Option<Invoice>,
    pub valid_invoices: usize,
    pub retain_until: String,
    /// `person`, `sole_trader` or `organisation` (from `kind`, else `company_name`).
    pub recipient: &'static str,
    pub deceased: bool,
    /// The address and last name are on the deceased register.
    pub on_deceased_register: bool,
    /// The address is on postfilter.
    pub on_postfilter: bool,
    pub requests: Vec<Request>,
    pub cells: Vec<CellStory>,
}

#[derive(Debug, Serialize)]
pub struct Invoice {
    pub invoice_id: String,
    pub invoice_date: String,
    pub line: i64,
}

#[derive(Debug, Serialize)]
pub struct Request {
    pub kind: String,
    pub received_on: String,
    pub line: i64,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub eligible: bool,
    pub basis: Option<&'static str>,
    pub reason: Option<&'static str>,
    /// The rule of the decision table: `1` to `12`, `8a`, `9a`.
    pub rule: &'static str,
    pub rule_name: &'static str,
    /// The law's rule behind the decision (the `law` column), and its source.
    pub law: Option<String>,
    pub law_source: Option<String>,
}

impl Outcome {
    fn of(v: Verdict, law: &Law) -> Outcome {
        let d = v.decision;
        let (eligible, basis, reason) = match d {
            Decision::Eligible(b) => (true, Some(b.code()), None),
            Decision::NotEligible(r) => (false, None, Some(r.code())),
        };
        let rule = v.law.map(|r| law.rule(r));
        Outcome {
            eligible,
            basis,
            reason,
            rule: d.rule(),
            rule_name: d.rule_name(),
            law: rule.map(|r| r.id.clone()),
            law_source: rule.map(|r| r.source.clone()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CellStory {
    pub category: &'static str,
    pub channel: &'static str,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub term_months: u32,
    pub explicit_consent: bool,
    pub expires_on: String,
    /// The law's rule that capped or dated `expires_on` (`None`: anchor + term).
    pub dated_by: Option<String>,
    /// The winning preference row, and the rows it beat.
    pub preference: Option<Preference>,
    pub beaten: Vec<Preference>,
    /// The contact point the cell uses (or would use, when not eligible for another reason).
    pub contact: Option<ContactPoint>,
    /// Why there is no contact point.
    pub no_contact: Option<String>,
    /// The next day on which this cell's decision changes by itself, and to what.
    pub next_change: Option<NextChange>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Preference {
    pub line: i64,
    pub category: String,
    pub channel: String,
    pub status: String,
    /// In Europe/Amsterdam, with its offset.
    pub recorded_at: String,
    pub origin: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct NextChange {
    pub date: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl Dealer {
    /// The story of record `customer` of this dealer; `Error::Usage` when the extract has
    /// no row of it at all.
    pub fn explain(&self, customer: &str) -> Result<Explanation> {
        let quarantined = self.quarantined(customer)?;
        let rid = self
            .records
            .customer_ids()
            .iter()
            .position(|c| c == Some(customer));
        if rid.is_none() && quarantined.is_empty() {
            return Err(Error::Usage(format!(
                "no customer record {customer} of dealer {} in the extract",
                self.dealer
            )));
        }
        Ok(Explanation {
            dealer_id: self.dealer.clone(),
            customer_id: customer.to_string(),
            as_of: self.as_of.to_string(),
            record: rid.map(|rid| self.record(rid)).transpose()?,
            quarantined,
        })
    }

    /// Quarantined rows (of every table but do_not_call) whose customer_id is `customer`.
    fn quarantined(&self, customer: &str) -> Result<Vec<Quarantined>> {
        let mut out = Vec::new();
        for (table, file, q) in &self.quarantine {
            if q.height() == 0 {
                continue;
            }
            let (lines, reasons, rows) = (
                q.column("line")?.i64()?,
                q.column("reason")?.str()?,
                q.column("record")?.str()?,
            );
            for i in 0..q.height() {
                let row: serde_json::Map<String, serde_json::Value> = rows
                    .get(i)
                    .and_then(|r| serde_json::from_str(r).ok())
                    .unwrap_or_default();
                let names = row.iter().any(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("customer_id")
                        && v.as_str().and_then(clean) == Some(customer)
                });
                if names {
                    out.push(Quarantined {
                        table: table.name(),
                        file: file.clone(),
                        line: lines.get(i).unwrap_or_default(),
                        reason: reasons.get(i).unwrap_or_default().to_string(),
                    });
                }
            }
        }
        Ok(out)
    }

    fn rows_of(&self, table: Table, rid: usize) -> Result<Option<DataFrame>> {
        let Some(df) = self.valid.get(&table) else {
            return Ok(None);
        };
        let mine = df.column("rid")?.u32()?.equal(rid as u32);
        Ok(Some(df.filter(&mine)?))
    }

    fn record(&self, rid: usize) -> Result<Record> {
        let r = &self.records;
        let anchor = from_epoch_days(r.anchor[rid]);
        let (mut anchor_invoice, mut valid_invoices) = (None, 0);
        if let Some(inv) = self.rows_of(Table::Invoices, rid)? {
            valid_invoices = inv.height();
            let dates = inv.column("invoice_date")?.date()?.physical();
            let ids = inv.column("invoice_id")?.str()?;
            let lines = inv.column("line")?.i64()?;
            // the last valid invoice; of several on that day, the first in the file
            anchor_invoice = (0..inv.height())
                .filter(|&i| dates.get(i) == Some(r.anchor[rid]))
                .min_by_key(|&i| lines.get(i))
                .map(|i| Invoice {
                    invoice_id: ids.get(i).unwrap_or_default().to_string(),
                    invoice_date: anchor.to_string(),
                    line: lines.get(i).unwrap_or_default(),
                });
        }
        let mut requests = Vec::new();
        if let Some(req) = self.rows_of(Table::Requests, rid)? {
            let (kinds, dates, lines) = (
                req.column("kind")?.str()?,
                req.column("received_on")?.date()?.physical(),
                req.column("line")?.i64()?,
            );
            for i in 0..req.height() {
                requests.push(Request {
                    kind: kinds.get(i).unwrap_or_default().to_string(),
                    received_on: dates
                        .get(i)
                        .map(|d| from_epoch_days(d).to_string())
                        .unwrap_or_default(),
                    line: lines.get(i).unwrap_or_default(),
                });
            }
        }
        let prefs = self.preferences(rid)?;
        let fields = Fields::new(r)?;
        let facts = r.facts(rid);
        let winners = facts.winners;
        let mut decided: Vec<Decided> = Vec::with_capacity(20);
        decide_record(&facts, &self.terms, &self.law.at(self.as_of), |d| {
            decided.push(d);
        });
        // for a reader, in the contract's order of categories and channels
        decided.sort_by_key(|d| (d.slot.category(), d.slot.channel()));
        let mut cells = Vec::with_capacity(decided.len());
        for d in &decided {
            let (slot, ch) = (d.slot, d.slot.channel());
            let cell = self.terms.cell(slot);
            let competing: Vec<&(Preference, i64)> = prefs
                .iter()
                .filter(|(p, _)| {
                    preferences::competes(&p.category, &p.channel, slot, facts.relation)
                })
                .collect();
            let winner_line = winners.and_then(|w| w[slot.index()]).map(|w| w.line);
            let opt_in = d.facts.preference == Some(Pref::OptIn);
            let point = audience::contact_point(r, &fields, rid, ch, opt_in);
            let no_contact = self.no_contact(rid, ch, opt_in, &fields);
            cells.push(CellStory {
                category: slot.category().name(),
                channel: ch.name(),
                outcome: Outcome::of(d.verdict, &self.law),
                term_months: cell.months,
                explicit_consent: cell.explicit_consent,
                expires_on: d.expires.to_string(),
                dated_by: d.facts.dated_by.map(|x| self.law.rule(x).id.clone()),
                preference: competing
                    .iter()
                    .find(|(_, line)| Some(*line) == winner_line)
                    .map(|(p, _)| p.clone()),
                beaten: competing
                    .iter()
                    .filter(|(_, line)| Some(*line) != winner_line)
                    .map(|(p, _)| p.clone())
                    .collect(),
                contact: no_contact.is_none().then_some(point),
                no_contact,
                next_change: self.next_change(rid, d),
            });
        }
        Ok(Record {
            relation: facts.relation.name(),
            recipient: facts.recipient.name(),
            source: r
                .ids
                .column("source")?
                .str()?
                .get(rid)
                .unwrap_or_default()
                .to_string(),
            anchor_date: anchor.to_string(),
            anchor_invoice,
            valid_invoices,
            retain_until: facts.retain_until(&self.terms).to_string(),
            deceased: facts.deceased,
            on_deceased_register: facts.on_deceased_register,
            on_postfilter: facts.on_postfilter,
            requests,
            cells,
        })
    }

    /// The record's valid preference rows, with their lines.
    fn preferences(&self, rid: usize) -> Result<Vec<(Preference, i64)>> {
        let Some(p) = self.rows_of(Table::Preferences, rid)? else {
            return Ok(Vec::new());
        };
        let text = |c: &str| -> Result<StringChunked> { Ok(p.column(c)?.str()?.clone()) };
        let (cat, chan, status, origin) = (
            text("category")?,
            text("channel")?,
            text("status")?,
            text("origin")?,
        );
        let (at, lines) = (p.column("recorded_at")?.i64()?, p.column("line")?.i64()?);
        Ok((0..p.height())
            .map(|i| {
                let line = lines.get(i).unwrap_or_default();
                let pref = Preference {
                    line,
                    category: cat.get(i).unwrap_or_default().to_string(),
                    channel: chan.get(i).unwrap_or_default().to_string(),
                    status: status.get(i).unwrap_or_default().to_string(),
                    recorded_at: at.get(i).map(amsterdam).unwrap_or_default(),
                    origin: origin.get(i).map(str::to_string),
                };
                (pref, line)
            })
            .collect())
    }

    /// Why a cell of channel `ch` has no contact point; `None` when it has one.
    fn no_contact(&self, rid: usize, ch: Channel, opt_in: bool, f: &Fields) -> Option<String> {
        let reach = self.records.reach[rid];
        let shown = |col: &str| match f.get(col, rid) {
            Some(v) => format!("{col} `{v}`"),
            None => format!("{col} empty"),
        };
        let verdict = |col: &str, mobile_only: bool| match f.get(col, rid) {
            None => format!("{col} empty"),
            Some(v) => match contact::phone(v) {
                None => format!("{col} `{v}` is not a valid number"),
                Some(p) if mobile_only && !p.mobile => {
                    format!("{col} `{v}` is not a mobile number")
                }
                Some(p) if self.outside.do_not_call.contains(&p.e164) => {
                    format!("{col} `{v}` ({}) is on do_not_call", p.e164)
                }
                Some(p) => format!("{col} `{v}` is {}", p.e164),
            },
        };
        match ch {
            Channel::Email if !reach.email => Some(match f.get("email", rid) {
                Some(v) => format!("`{v}` is not an e-mail address"),
                None => "no e-mail address".into(),
            }),
            Channel::Sms if reach.sms.is_none() => Some(format!(
                "no valid mobile number: {}; {}",
                verdict("mobile", true),
                verdict("phone", true)
            )),
            Channel::Phone if reach.phone(opt_in).is_none() => Some(format!(
                "{}: {}; {}",
                if reach.phone_first.is_some() {
                    "every valid number is on do_not_call"
                } else {
                    "no valid number"
                },
                verdict("phone", false),
                verdict("mobile", false)
            )),
            Channel::Post if !reach.post => {
                let missing: Vec<&str> = ["street", "house_number", "postcode", "city"]
                    .into_iter()
                    .filter(|c| f.get(c, rid).is_none())
                    .collect();
                Some(if missing.is_empty() {
                    format!(
                        "{} is not a Dutch postcode (1234 AB) for an address in the Netherlands",
                        shown("postcode")
                    )
                } else {
                    format!("no postal address: {} empty", missing.join(", "))
                })
            }
            Channel::App if !reach.app => Some("no app_id".into()),
            _ => None,
        }
    }

    /// The first day after the as-of date on which cell `now` of record `rid` is decided
    /// otherwise with nothing else changing: the decision depends on the date only through
    /// the term's end, the retention's end and the days rules come into and go out of
    /// force, so those days are tried in order.
    fn next_change(&self, rid: usize, now: &Decided) -> Option<NextChange> {
        let facts = self.records.facts(rid);
        let mut days = vec![facts.retain_until(&self.terms), now.expires];
        for r in &self.law.rules {
            days.extend(r.from);
            days.extend(r.until.and_then(|u| u.succ_opt()));
        }
        days.retain(|d| *d > self.as_of);
        days.sort();
        days.dedup();
        days.into_iter().find_map(|day| {
            let mut later = None;
            decide_record(&facts, &self.terms, &self.law.at(day), |d| {
                if d.slot == now.slot {
                    later = Some(d.verdict);
                }
            });
            let v = later?;
            (v.decision != now.verdict.decision).then(|| NextChange {
                date: day.to_string(),
                outcome: Outcome::of(v, &self.law),
            })
        })
    }
}

/// A `recorded_at` (microseconds UTC) in Europe/Amsterdam, with its offset.
fn amsterdam(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| {
            t.with_timezone(&chrono_tz::Europe::Amsterdam)
                .format("%Y-%m-%d %H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
}

impl Explanation {
    /// The explanation as text for a person.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} / {}, as of {}",
            self.dealer_id, self.customer_id, self.as_of
        );
        match &self.record {
            None => {
                let own = self.quarantined.iter().any(|q| q.table == "customers");
                let _ = writeln!(
                    s,
                    "  no decision: {}, so it has no cells",
                    if own {
                        "its customers row is quarantined"
                    } else {
                        "the extract has no customers row for it"
                    }
                );
            }
            Some(r) => record_text(&mut s, r),
        }
        if self.quarantined.is_empty() {
            let _ = writeln!(s, "  quarantined rows naming this record: none");
        } else {
            let _ = writeln!(s, "  quarantined rows naming this record:");
            for q in &self.quarantined {
                let _ = writeln!(s, "    {} line {}: {}", q.file, q.line, q.reason);
            }
        }
        if let Some(r) = &self.record {
            for c in &r.cells {
                cell_text(&mut s, c);
            }
        }
        s
    }
}

fn record_text(s: &mut String, r: &Record) {
    let _ = writeln!(
        s,
        "  {} (source {}); recipient: {}",
        r.relation,
        r.source,
        r.recipient.replace('_', " ")
    );
    match &r.anchor_invoice {
        Some(i) => {
            let _ = writeln!(
                s,
                "  anchor: invoice {} of {} (invoices line {}), the last of {} valid invoice(s)",
                i.invoice_id, i.invoice_date, i.line, r.valid_invoices
            );
        }
        None => {
            let _ = writeln!(
                s,
                "  anchor: registered_on {} (no valid invoice)",
                r.anchor_date
            );
        }
    }
    let yes = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(
        s,
        "  retain until {}; deceased: {}; on the deceased register: {}; on postfilter: {}",
        r.retain_until,
        yes(r.deceased),
        yes(r.on_deceased_register),
        yes(r.on_postfilter)
    );
    if r.requests.is_empty() {
        let _ = writeln!(s, "  requests: none");
    }
    for q in &r.requests {
        let _ = writeln!(
            s,
            "  request: {} received {} (requests line {})",
            q.kind, q.received_on, q.line
        );
    }
}

fn outcome_text(o: &Outcome) -> String {
    let law = o
        .law
        .as_ref()
        .map(|l| format!("; law {l}"))
        .unwrap_or_default();
    if o.eligible {
        format!(
            "eligible by {} (rule {}: {}{law})",
            o.basis.unwrap_or_default(),
            o.rule,
            o.rule_name
        )
    } else {
        format!(
            "not eligible: {} (rule {}: {}{law})",
            o.reason.unwrap_or_default(),
            o.rule,
            o.rule_name
        )
    }
}

fn pref_text(p: &Preference) -> String {
    format!(
        "preferences line {}: {} for {} / {}, recorded {}{}",
        p.line,
        p.status,
        p.category,
        p.channel,
        p.recorded_at,
        p.origin
            .as_ref()
            .map(|o| format!(", origin {o}"))
            .unwrap_or_default()
    )
}

fn cell_text(s: &mut String, c: &CellStory) {
    let _ = writeln!(
        s,
        "\n{} / {}: {}",
        c.category,
        c.channel,
        outcome_text(&c.outcome)
    );
    let _ = writeln!(
        s,
        "  term {} months: expires_on {}{}{}",
        c.term_months,
        c.expires_on,
        c.dated_by
            .as_ref()
            .map(|l| format!(" (capped or dated by {l})"))
            .unwrap_or_default(),
        if c.explicit_consent {
            "; needs explicit consent"
        } else {
            ""
        }
    );
    if let Some(source) = &c.outcome.law_source {
        let _ = writeln!(s, "  law: {source}");
    }
    match &c.preference {
        None => {
            let _ = writeln!(s, "  preference: none");
        }
        Some(p) => {
            let _ = writeln!(s, "  preference: {}", pref_text(p));
        }
    }
    for p in &c.beaten {
        let _ = writeln!(s, "    beat {}", pref_text(p));
    }
    match (&c.contact, &c.no_contact) {
        (Some(p), _) => {
            let _ = writeln!(s, "  contact: {}", contact_text(p));
        }
        (None, Some(why)) => {
            let _ = writeln!(s, "  contact: none: {why}");
        }
        (None, None) => {}
    }
    match &c.next_change {
        Some(n) => {
            let _ = writeln!(
                s,
                "  changes by itself on {}: {}",
                n.date,
                outcome_text(&n.outcome)
            );
        }
        None => {
            let _ = writeln!(s, "  changes by itself: never");
        }
    }
}

fn contact_text(p: &ContactPoint) -> String {
    let parts: Vec<&str> = [
        &p.email,
        &p.phone,
        &p.app_id,
        &p.name,
        &p.address,
        &p.postcode,
        &p.city,
        &p.country,
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect();
    parts.join(", ")
}
