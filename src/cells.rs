//! Every cell of every record, decided: the facts of each (record, category, channel) are
//! gathered from `Records` and the policy, `decide` is applied in parallel, and the result
//! becomes the eligibility frame, sorted by dealer_id, customer_id, category, channel.
//! Also the retention frame: the records that must now be erased.
//!
//! Frames in, frames out; no I/O.

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use crate::error::Result;
use crate::manifest::CellCount;
use crate::policy::decide::erasure;
use crate::policy::{
    decide_record, Basis, Channel, Decision, Law, LawAt, Policy, Reason, Relation, RuleRef, Slot,
};
use crate::records::Records;
use crate::schema::CATEGORIES;
use crate::values::epoch_days;

/// One decided cell, compactly.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    pub rid: u32,
    pub slot: Slot,
    /// days since the epoch
    pub expires: i32,
    pub decision: Decision,
    /// the law's rule behind the decision (`Verdict::law`)
    pub law: Option<RuleRef>,
}

/// Records decided and written together: their cells (at most 20 each) make a Parquet row
/// group of about 256k rows, so a large dealer is never held in memory whole.
pub const RECORDS_PER_GROUP: usize = 12_800;

/// Record indices sorted by dealer_id, then customer_id.
pub fn sorted_records(r: &Records) -> Vec<u32> {
    let keys: Vec<(Option<&str>, Option<&str>)> =
        r.dealer_ids().iter().zip(r.customer_ids().iter()).collect();
    let mut order: Vec<u32> = (0..r.len() as u32).collect();
    order.par_sort_unstable_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]));
    order
}

/// The dealers of `order` (sorted by dealer) with the range of `order` each holds.
pub fn dealer_runs(r: &Records, order: &[u32]) -> Vec<(String, std::ops::Range<usize>)> {
    let dealers = r.dealer_ids();
    let mut runs: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for (i, &rid) in order.iter().enumerate() {
        let d = dealers.get(rid as usize).unwrap_or_default();
        match runs.last_mut() {
            Some((last, range)) if last == d => range.end = i + 1,
            _ => runs.push((d.to_string(), i..i + 1)),
        }
    }
    runs
}

/// Every cell of the records `order` lists, decided: in `order`, and each record's cells in
/// slot order (by category, then channel).
pub fn decide_cells(r: &Records, order: &[u32], policy: &Policy, law: &LawAt) -> Vec<Cell> {
    let dealers = r.dealer_ids();
    order
        .par_iter()
        .flat_map_iter(|&rid| {
            let terms = policy.for_dealer(dealers.get(rid as usize).unwrap_or_default());
            let mut cells = Vec::with_capacity(20);
            decide_record(&r.facts(rid as usize), terms, law, |d| {
                cells.push(Cell {
                    rid,
                    slot: d.slot,
                    expires: epoch_days(d.expires),
                    decision: d.verdict.decision,
                    law: d.verdict.law,
                });
            });
            cells
        })
        .collect()
}

/// The eligibility frame of `cells` (one dealer's, when written: the dealer_id lives in the
/// partition's folder name): customer_id, source, relation, category, channel, anchor_date,
/// expires_on, eligible, basis, reason, law; and the cells counted per category x channel x
/// outcome.
pub fn eligibility(r: &Records, cells: &[Cell], law: &Law) -> Result<(DataFrame, Vec<CellCount>)> {
    let take = |col: &str| -> Result<Column> {
        let idx = IdxCa::from_vec("i".into(), cells.iter().map(|c| c.rid as IdxSize).collect());
        Ok(r.ids.column(col)?.take(&idx)?)
    };
    let n = cells.len();
    // Text columns are gathered from small dictionaries (a null index gives null), which
    // copies 16-byte views instead of building strings.
    let pick = |words: &[&str], name: &str, f: &dyn Fn(&Cell) -> Option<usize>| -> Result<Column> {
        let dict = Column::new(name.into(), words);
        let idx: IdxCa = cells.iter().map(|c| f(c).map(|i| i as IdxSize)).collect();
        Ok(dict.take(&idx)?)
    };
    let relations = [Relation::Customer.name(), Relation::Prospect.name()];
    let channels = Channel::ALL.map(Channel::name);
    let rules: Vec<&str> = law.rules.iter().map(|x| x.id.as_str()).collect();
    let basis_words = [Basis::Consent.code(), Basis::Term.code()];
    let reasons = Reason::ALL.map(Reason::code);
    let relation = |c: &Cell| {
        Some(usize::from(
            r.relation[c.rid as usize] == Relation::Prospect,
        ))
    };
    let category = |c: &Cell| Some(c.slot.category() as usize);
    let channel = |c: &Cell| Some(c.slot.channel() as usize);
    let basis = |c: &Cell| match c.decision {
        Decision::Eligible(b) => Some(usize::from(b == Basis::Term)),
        Decision::NotEligible(_) => None,
    };
    let reason = |c: &Cell| match c.decision {
        Decision::Eligible(_) => None,
        Decision::NotEligible(x) => Reason::ALL.iter().position(|y| *y == x),
    };
    let dates = |v: Vec<i32>, name: &str| {
        Int32Chunked::from_vec(name.into(), v)
            .into_date()
            .into_column()
    };
    let columns = vec![
        take("customer_id")?,
        take("source")?,
        pick(&relations, "relation", &relation)?,
        pick(&CATEGORIES, "category", &category)?,
        pick(&channels, "channel", &channel)?,
        dates(
            cells.iter().map(|c| r.anchor[c.rid as usize]).collect(),
            "anchor_date",
        ),
        dates(cells.iter().map(|c| c.expires).collect(), "expires_on"),
        cells
            .iter()
            .map(|c| matches!(c.decision, Decision::Eligible(_)))
            .collect::<BooleanChunked>()
            .with_name("eligible".into())
            .into_column(),
        pick(&basis_words, "basis", &basis)?,
        pick(&reasons, "reason", &reason)?,
        pick(&rules, "law", &|c: &Cell| c.law.map(usize::from))?,
    ];
    Ok((DataFrame::new(n, columns)?, count(cells)))
}

fn count(cells: &[Cell]) -> Vec<CellCount> {
    // a slot per (cell, outcome) rather than a map: this runs once per cell
    let mut counts: Vec<(Option<Decision>, u64)> =
        vec![(None, 0); Slot::COUNT * Decision::OUTCOMES];
    for c in cells {
        let slot = &mut counts[c.slot.index() * Decision::OUTCOMES + c.decision.outcome()];
        slot.0 = Some(c.decision);
        slot.1 += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .filter_map(|(i, (d, cells))| {
            let slot = Slot((i / Decision::OUTCOMES) as u8);
            let d = d?;
            Some(CellCount {
                category: slot.category().name(),
                channel: slot.channel().name(),
                eligible: matches!(d, Decision::Eligible(_)),
                outcome: d.code(),
                cells,
            })
        })
        .collect()
}

/// The columns of `eligibility/` (the frame `eligibility` makes), for an empty dataset.
pub fn eligibility_schema() -> Schema {
    let text = ["customer_id", "source", "relation", "category", "channel"];
    let mut s: Schema = text
        .iter()
        .map(|c| Field::new((*c).into(), DataType::String))
        .collect();
    for (c, t) in [
        ("anchor_date", DataType::Date),
        ("expires_on", DataType::Date),
        ("eligible", DataType::Boolean),
        ("basis", DataType::String),
        ("reason", DataType::String),
        ("law", DataType::String),
    ] {
        s.with_column(c.into(), t);
    }
    s
}

/// The columns of `expiring/`, for an empty dataset.
pub fn expiring_schema() -> Schema {
    let mut s = eligibility_schema();
    for c in ["eligible", "basis", "reason"] {
        s.remove(c);
    }
    s.with_column("days_left".into(), DataType::Int32);
    s
}

/// The cells of an eligibility frame that are eligible by their term and whose `expires_on`
/// falls within `days` days after `as_of` (in `as_of + 1 ..= as_of + days`), with
/// `days_left`: the cells a re-permission campaign is for. Cells eligible by an opt-in do not
/// end with their term, so they are not listed.
pub fn expiring(cells: &DataFrame, as_of: NaiveDate, days: u32) -> Result<DataFrame> {
    let from = epoch_days(as_of);
    let to = from + i32::try_from(days).unwrap_or(i32::MAX - from);
    let expires = cells.column("expires_on")?.date()?.physical().clone();
    let term = cells.column("basis")?.str()?;
    let soon: BooleanChunked = expires
        .iter()
        .zip(term.iter())
        .map(|(e, b)| b == Some(Basis::Term.code()) && e.is_some_and(|e| e > from && e <= to))
        .collect();
    let columns = [
        "customer_id",
        "source",
        "relation",
        "category",
        "channel",
        "anchor_date",
        "expires_on",
        "law",
    ]
    .iter()
    // column by column: DataFrame::filter hands the columns to polars' thread pool and, called
    // from this run's own parallel work, waits there (0.2 s instead of a millisecond)
    .map(|c| Ok(cells.column(c)?.filter(&soon)?))
    .collect::<Result<Vec<_>>>()?;
    let mut out = DataFrame::new_infer_height(columns)?;
    let left: Int32Chunked = out
        .column("expires_on")?
        .date()?
        .physical()
        .iter()
        .map(|e| e.map(|e| e - from))
        .collect();
    out.with_column(left.with_name("days_left".into()).into_column())?;
    Ok(out)
}

/// The records that must now be erased (`policy::decide::erasure`: an erasure request, or
/// past `retain_until` with no cell won by an opt-in). Sorted like `order`.
pub fn retention(
    r: &Records,
    order: &[u32],
    policy: &Policy,
    as_of: NaiveDate,
) -> Result<DataFrame> {
    let dealers = r.dealer_ids();
    let mut rows: Vec<(u32, i32, Reason)> = Vec::new();
    for &rid in order {
        let terms = policy.for_dealer(dealers.get(rid as usize).unwrap_or_default());
        let rec = r.facts(rid as usize);
        if let Some(reason) = erasure(&rec, terms, as_of) {
            rows.push((rid, epoch_days(rec.retain_until(terms)), reason));
        }
    }
    let idx = IdxCa::from_vec("i".into(), rows.iter().map(|x| x.0 as IdxSize).collect());
    let n = rows.len();
    Ok(DataFrame::new(
        n,
        vec![
            r.ids.column("dealer_id")?.take(&idx)?,
            r.ids.column("customer_id")?.take(&idx)?,
            rows.iter()
                .map(|x| Some(r.relation[x.0 as usize].name()))
                .collect::<StringChunked>()
                .with_name("relation".into())
                .into_column(),
            Int32Chunked::from_vec("retain_until".into(), rows.iter().map(|x| x.1).collect())
                .into_date()
                .into_column(),
            rows.iter()
                .map(|x| Some(x.2.code()))
                .collect::<StringChunked>()
                .with_name("reason".into())
                .into_column(),
        ],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiring_is_term_cells_due_in_the_next_days() {
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
        let day = |d: i32| epoch_days(as_of) + d;
        // expires: today, tomorrow, the 30th day, the 31st day, tomorrow (by consent),
        // tomorrow (not eligible)
        let expires = [day(0), day(1), day(30), day(31), day(1), day(1)];
        let basis = [
            Some("term"),
            Some("term"),
            Some("term"),
            Some("term"),
            Some("consent"),
            None,
        ];
        let n = expires.len();
        let text = |name: &str, v: &str| Column::new(name.into(), vec![v; n]);
        let dates = |name: &str, v: Vec<i32>| {
            Int32Chunked::from_vec(name.into(), v)
                .into_date()
                .into_column()
        };
        let cells = DataFrame::new(
            n,
            vec![
                Column::new("customer_id".into(), ["a", "b", "c", "d", "e", "f"]),
                text("source", "Dealer"),
                text("relation", "customer"),
                text("category", "newsletter"),
                text("channel", "email"),
                dates("anchor_date", vec![day(-500); n]),
                dates("expires_on", expires.to_vec()),
                Column::new("basis".into(), basis),
                Column::new("law".into(), vec![None::<&str>; n]),
            ],
        )
        .expect("frame");
        let soon = expiring(&cells, as_of, 30).expect("expiring");
        let ids: Vec<Option<&str>> = soon
            .column("customer_id")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(ids, [Some("b"), Some("c")]);
        let left: Vec<Option<i32>> = soon
            .column("days_left")
            .unwrap()
            .i32()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(left, [Some(1), Some(30)]);
        assert_eq!(expiring(&cells, as_of, 31).unwrap().height(), 3);
    }
}
