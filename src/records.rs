//! Joining the validated tables into one row of facts per customer record: relation and
//! anchor (last valid invoice), contact points per channel, requests, and the winning
//! preference of every cell.
//!
//! Takes validated frames (tables that name a customer carry its record index `rid`) and
//! returns columns indexed by `rid`; it decides nothing.

use chrono::NaiveDate;
use polars::prelude::*;
use rayon::prelude::*;

use crate::contact;
use crate::decide::Preference;
use crate::error::Result;
use crate::pipeline::Terms;
use crate::schema::{Channel, Relation, Table, CATEGORIES};
use crate::values::{add_months, from_epoch_days};

/// A preference row competing for a cell: the latest `recorded_at` wins, `opt_out` on a tie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Competitor {
    pub recorded_at: i64,
    pub preference: Preference,
    pub line: i64,
}

impl Competitor {
    fn beats(&self, other: &Competitor) -> bool {
        (self.recorded_at, self.preference == Preference::OptOut)
            > (other.recorded_at, other.preference == Preference::OptOut)
    }
}

/// Winning preference of each of a record's cells, by `CATEGORIES` index * 5 + channel.
pub type Winners = [Option<Competitor>; 25];

/// The requests a record has.
#[derive(Clone, Copy, Debug, Default)]
pub struct Requests {
    pub erasure: bool,
    pub objection: bool,
    pub restriction: bool,
}

/// Which of a record's two number columns a phone contact point comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberField {
    Phone,
    Mobile,
}

impl NumberField {
    pub fn column(self) -> &'static str {
        match self {
            NumberField::Phone => "phone",
            NumberField::Mobile => "mobile",
        }
    }
}

/// Which channels a record can be reached on, and for phone and sms, which number.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reach {
    pub email: bool,
    pub app: bool,
    pub post: bool,
    /// sms: the first of `mobile`, `phone` that is a valid mobile number
    pub sms: Option<NumberField>,
    /// the first of `phone`, `mobile` that is a valid number
    pub phone_first: Option<NumberField>,
    /// the first of `phone`, `mobile` that is a valid number not on do_not_call
    pub phone_free: Option<NumberField>,
}

impl Reach {
    pub fn channel(&self, c: Channel) -> bool {
        match c {
            Channel::Email => self.email,
            Channel::Sms => self.sms.is_some(),
            Channel::App => self.app,
            Channel::Post => self.post,
            Channel::Phone => self.phone_first.is_some(),
        }
    }

    /// Every valid phone number is on do_not_call (and there is one).
    pub fn all_numbers_do_not_call(&self) -> bool {
        self.phone_first.is_some() && self.phone_free.is_none()
    }

    /// The number a phone cell calls: with an opt-in, the first valid one; otherwise the
    /// first not on do_not_call.
    pub fn phone(&self, opt_in: bool) -> Option<NumberField> {
        if opt_in {
            self.phone_first
        } else {
            self.phone_free
        }
    }
}

/// Facts per valid customer record, indexed by record index `rid`.
pub struct Records {
    /// `dealer_id`, `customer_id`, `source` (default `Dealer`).
    pub ids: DataFrame,
    /// The valid customers rows, by `rid` (names, addresses, numbers: for contact points).
    pub customers: DataFrame,
    /// The valid vehicles that name a record, sorted by `rid` then `vehicle_id`; the
    /// vehicles of record `rid` are rows `vehicle_rows[rid]..vehicle_rows[rid + 1]`.
    pub vehicles: DataFrame,
    pub vehicle_rows: Vec<u32>,
    pub relation: Vec<Relation>,
    /// Days since the epoch: last valid invoice, or `registered_on` for a prospect.
    pub anchor: Vec<i32>,
    pub deceased: Vec<bool>,
    pub requests: Vec<Requests>,
    pub reach: Vec<Reach>,
    pub winners: PlHashMap<u32, Box<Winners>>,
}

impl Records {
    pub fn len(&self) -> usize {
        self.relation.len()
    }

    pub fn is_empty(&self) -> bool {
        self.relation.is_empty()
    }

    /// Some cell of the record is won by an opt-in.
    pub fn has_opt_in(&self, rid: usize) -> bool {
        self.winners.get(&(rid as u32)).is_some_and(|w| {
            w.iter()
                .flatten()
                .any(|c| c.preference == Preference::OptIn)
        })
    }

    /// The day from which the record must be erased: anchor + the relation's retention.
    pub fn retain_until(&self, rid: usize, terms: &Terms) -> NaiveDate {
        add_months(
            from_epoch_days(self.anchor[rid]),
            terms.retain_months(self.relation[rid]),
        )
    }

    pub fn dealer_ids(&self) -> &StringChunked {
        self.ids
            .column("dealer_id")
            .and_then(|c| c.str())
            .expect("records have dealer_id")
    }

    pub fn customer_ids(&self) -> &StringChunked {
        self.ids
            .column("customer_id")
            .and_then(|c| c.str())
            .expect("records have customer_id")
    }
}

/// The columns of each validated table that `build` reads (`None`: all of them).
pub fn columns_used(table: Table) -> Option<&'static [&'static str]> {
    match table {
        Table::Customers => None,
        Table::Invoices => Some(&["line", "rid", "invoice_date"]),
        Table::Vehicles => Some(&[
            "line",
            "rid",
            "vehicle_id",
            "license_plate",
            "make",
            "model",
            "first_registration_on",
            "apk_due_on",
        ]),
        Table::Preferences => Some(&[
            "line",
            "rid",
            "category",
            "channel",
            "status",
            "recorded_at",
        ]),
        Table::Requests => Some(&["line", "rid", "kind"]),
        Table::DoNotCall => Some(&["line", "phone"]),
    }
}

/// The valid tables a run has; optional tables may be absent.
pub struct Valid<'a> {
    pub customers: &'a DataFrame,
    pub invoices: &'a DataFrame,
    pub vehicles: Option<&'a DataFrame>,
    pub preferences: Option<&'a DataFrame>,
    pub requests: Option<&'a DataFrame>,
    /// The valid do_not_call numbers, in E.164.
    pub do_not_call: &'a PlHashSet<String>,
}

/// The numbers of the valid `do_not_call` frame.
pub fn do_not_call(valid: Option<&DataFrame>) -> Result<PlHashSet<String>> {
    Ok(match valid {
        Some(d) => d
            .column("phone")?
            .str()?
            .iter()
            .flatten()
            .map(str::to_string)
            .collect(),
        None => PlHashSet::default(),
    })
}

pub fn build(v: &Valid) -> Result<Records> {
    let c = v.customers;
    let n = c.height();
    let text = |name: &str| -> Result<StringChunked> { Ok(c.column(name)?.str()?.clone()) };

    let source: StringChunked = text("source")?
        .iter()
        .map(|s| Some(s.unwrap_or("Dealer")))
        .collect();
    let ids = DataFrame::new(
        n,
        vec![
            c.column("dealer_id")?.clone(),
            c.column("customer_id")?.clone(),
            source.with_name("source".into()).into_column(),
        ],
    )?;

    // relation and anchor: the last valid invoice, else registration
    let mut last: Vec<Option<i32>> = vec![None; n];
    let inv_rid = v.invoices.column("rid")?.u32()?;
    let inv_date = v.invoices.column("invoice_date")?.date()?.physical();
    for (rid, d) in inv_rid.iter().zip(inv_date.iter()) {
        if let (Some(rid), Some(d)) = (rid, d) {
            let l = &mut last[rid as usize];
            *l = Some(l.map_or(d, |x| x.max(d)));
        }
    }
    let registered = c.column("registered_on")?.date()?.physical();
    let relation = last
        .iter()
        .map(|l| {
            if l.is_some() {
                Relation::Customer
            } else {
                Relation::Prospect
            }
        })
        .collect();
    let anchor = last
        .iter()
        .zip(registered.iter())
        .map(|(l, r)| l.or(r).expect("registered_on is required"))
        .collect();
    let deceased = c
        .column("deceased")?
        .bool()?
        .iter()
        .map(|b| b == Some(true))
        .collect();

    let mut requests = vec![Requests::default(); n];
    if let Some(r) = v.requests {
        let rids = r.column("rid")?.u32()?;
        let kinds = r.column("kind")?.str()?;
        for (rid, kind) in rids.iter().zip(kinds.iter()) {
            if let (Some(rid), Some(kind)) = (rid, kind) {
                let q = &mut requests[rid as usize];
                match kind {
                    "erasure" => q.erasure = true,
                    "objection" => q.objection = true,
                    _ => q.restriction = true,
                }
            }
        }
    }

    let reach = reach(c, v.do_not_call)?;
    let relation: Vec<Relation> = relation;
    let winners = match v.preferences {
        Some(p) => winners(p, &relation)?,
        None => PlHashMap::default(),
    };
    let (vehicles, vehicle_rows) = vehicles(v.vehicles, n)?;
    Ok(Records {
        ids,
        customers: c.clone(),
        vehicles,
        vehicle_rows,
        relation,
        anchor,
        deceased,
        requests,
        reach,
        winners,
    })
}

/// Contact points of every record, in parallel (phone numbers are costly to judge).
fn reach(c: &DataFrame, dnc: &PlHashSet<String>) -> Result<Vec<Reach>> {
    let col =
        |name: &str| -> Result<Vec<Option<&str>>> { Ok(c.column(name)?.str()?.iter().collect()) };
    let (email, phone, mobile, app) =
        (col("email")?, col("phone")?, col("mobile")?, col("app_id")?);
    let (street, number, postcode, city, country) = (
        col("street")?,
        col("house_number")?,
        col("postcode")?,
        col("city")?,
        col("country")?,
    );
    Ok((0..c.height())
        .into_par_iter()
        .map(|i| {
            use NumberField::{Mobile, Phone};
            let numbers = [(Phone, phone[i]), (Mobile, mobile[i])]
                .map(|(f, s)| (f, s.and_then(contact::phone)));
            let first = |ok: &dyn Fn(&contact::Phone) -> bool| {
                numbers
                    .iter()
                    .find(|(_, p)| p.as_ref().is_some_and(ok))
                    .map(|(f, _)| *f)
            };
            Reach {
                email: email[i].and_then(contact::email).is_some(),
                // mobile first, then phone
                sms: numbers
                    .iter()
                    .rev()
                    .find(|(_, p)| p.as_ref().is_some_and(|p| p.mobile))
                    .map(|(f, _)| *f),
                app: app[i].is_some(),
                post: contact::has_postal_address(
                    street[i],
                    number[i],
                    postcode[i],
                    city[i],
                    country[i],
                ),
                phone_first: first(&|_| true),
                phone_free: first(&|p| !dnc.contains(&p.e164)),
            }
        })
        .collect())
}

/// The valid vehicles that name a record, sorted by `rid` and `vehicle_id`, with the first
/// row of each of the `n` records (and the end).
fn vehicles(v: Option<&DataFrame>, n: usize) -> Result<(DataFrame, Vec<u32>)> {
    let Some(v) = v else {
        return Ok((DataFrame::empty(), vec![0; n + 1]));
    };
    let v = v
        .filter(&v.column("rid")?.is_not_null())?
        .sort(["rid", "vehicle_id"], SortMultipleOptions::default())?;
    let mut rows = vec![0u32; n + 1];
    for rid in v.column("rid")?.u32()?.iter().flatten() {
        rows[rid as usize + 1] += 1;
    }
    for i in 0..n {
        rows[i + 1] += rows[i];
    }
    Ok((v, rows))
}

/// The winning preference of each cell of each record that has preferences.
fn winners(p: &DataFrame, relation: &[Relation]) -> Result<PlHashMap<u32, Box<Winners>>> {
    let rids = p.column("rid")?.u32()?;
    let cats = p.column("category")?.str()?;
    let chans = p.column("channel")?.str()?;
    let status = p.column("status")?.str()?;
    let at = p.column("recorded_at")?.i64()?;
    let lines = p.column("line")?.i64()?;
    let mut out: PlHashMap<u32, Box<Winners>> = PlHashMap::default();
    for i in 0..p.height() {
        let (Some(rid), Some(cat), Some(chan), Some(status), Some(at), Some(line)) = (
            rids.get(i),
            cats.get(i),
            chans.get(i),
            status.get(i),
            at.get(i),
            lines.get(i),
        ) else {
            continue;
        };
        let me = Competitor {
            recorded_at: at,
            preference: if status == "opt_in" {
                Preference::OptIn
            } else {
                Preference::OptOut
            },
            line,
        };
        let w = out.entry(rid).or_insert_with(|| Box::new([None; 25]));
        for (ci, c) in CATEGORIES.iter().enumerate() {
            if !relation[rid as usize].categories().contains(c) || (cat != "*" && cat != *c) {
                continue;
            }
            for ch in Channel::ALL {
                if chan != "*" && chan != ch.name() {
                    continue;
                }
                let slot = &mut w[ci * 5 + ch as usize];
                if slot.is_none_or(|s| me.beats(&s)) {
                    *slot = Some(me);
                }
            }
        }
    }
    Ok(out)
}
