//! Joining the validated tables into one row of facts per customer record: relation and
//! anchor (last valid invoice), recipient, contact points per channel, requests, the
//! registers (postfilter, deceased) the record is on, and the winning preference of every
//! cell.
//!
//! Takes validated frames (tables that name a customer carry its record index `rid`) and
//! returns columns indexed by `rid`; it decides nothing.

use polars::prelude::*;
use rayon::prelude::*;

use crate::contact::{self, Reach};
use crate::error::Result;
use crate::policy::decide::Requests;
use crate::policy::preferences::{self, Competitor, Preference, Winners};
use crate::policy::{Recipient, RecordFacts, Relation, Slot};
use crate::schema::Table;
use crate::values::from_epoch_days;

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
    pub recipient: Vec<Recipient>,
    pub deceased: Vec<bool>,
    pub on_deceased_register: Vec<bool>,
    pub on_postfilter: Vec<bool>,
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

    /// What the decision table needs to know about record `rid`.
    pub fn facts(&self, rid: usize) -> RecordFacts<'_> {
        RecordFacts {
            relation: self.relation[rid],
            recipient: self.recipient[rid],
            anchor: from_epoch_days(self.anchor[rid]),
            requests: self.requests[rid],
            deceased: self.deceased[rid],
            on_deceased_register: self.on_deceased_register[rid],
            on_postfilter: self.on_postfilter[rid],
            reach: self.reach[rid],
            winners: self.winners.get(&(rid as u32)).map(AsRef::as_ref),
        }
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
        Table::Postfilter => Some(&["line", "postcode", "house_number", "house_number_suffix"]),
        Table::DeceasedRegister => Some(&[
            "line",
            "postcode",
            "house_number",
            "house_number_suffix",
            "last_name",
        ]),
    }
}

/// The valid tables a run has; optional tables may be absent.
pub struct Valid<'a> {
    pub customers: &'a DataFrame,
    pub invoices: &'a DataFrame,
    pub vehicles: Option<&'a DataFrame>,
    pub preferences: Option<&'a DataFrame>,
    pub requests: Option<&'a DataFrame>,
    /// The valid do_not_call numbers, in E.164, and the registers.
    pub outside: &'a Outside,
}

/// The tables that name no dealer, read whole: do_not_call and the registers.
#[derive(Default)]
pub struct Outside {
    /// E.164 numbers.
    pub do_not_call: PlHashSet<String>,
    /// `address_key`s.
    pub postfilter: PlHashSet<String>,
    /// `address_key`s with `\u{1f}` and the lowercased last name.
    pub deceased_register: PlHashSet<String>,
}

impl Outside {
    /// From the valid rows of the do_not_call, postfilter and deceased_register tables.
    pub fn new(valid: &[(Table, &DataFrame)]) -> Result<Outside> {
        let mut o = Outside::default();
        for (table, df) in valid {
            let text = |c: &str| -> Result<StringChunked> { Ok(df.column(c)?.str()?.clone()) };
            match table {
                Table::DoNotCall => o
                    .do_not_call
                    .extend(text("phone")?.iter().flatten().map(str::to_string)),
                Table::Postfilter | Table::DeceasedRegister => {
                    let (pc, nr, sx) = (
                        text("postcode")?,
                        text("house_number")?,
                        text("house_number_suffix")?,
                    );
                    let names = match table {
                        Table::DeceasedRegister => Some(text("last_name")?),
                        _ => None,
                    };
                    for i in 0..df.height() {
                        let Some(key) = address_key(pc.get(i), nr.get(i), sx.get(i)) else {
                            continue;
                        };
                        match &names {
                            None => {
                                o.postfilter.insert(key);
                            }
                            Some(names) => {
                                o.deceased_register.extend(deceased_key(&key, names.get(i)));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(o)
    }
}

/// An address as the registers compare it: postcode without spaces, upper-cased; house
/// number and suffix upper-cased (an empty suffix matches only an empty suffix).
pub fn address_key(
    postcode: Option<&str>,
    number: Option<&str>,
    suffix: Option<&str>,
) -> Option<String> {
    let pc: String = postcode?
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect();
    Some(format!(
        "{pc}\u{1f}{}\u{1f}{}",
        number?.to_uppercase(),
        suffix.unwrap_or_default().to_uppercase()
    ))
}

/// An address key and a last name (trimmed, case-insensitive), as the deceased register
/// compares them.
pub fn deceased_key(address: &str, last_name: Option<&str>) -> Option<String> {
    Some(format!("{address}\u{1f}{}", last_name?.to_lowercase()))
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
    let (kind, company) = (text("kind")?, text("company_name")?);
    let recipient = kind
        .iter()
        .zip(company.iter())
        .map(|(k, c)| Recipient::of(k, c.is_some()))
        .collect();
    let (postcode, number, suffix, last_name) = (
        text("postcode")?,
        text("house_number")?,
        text("house_number_suffix")?,
        text("last_name")?,
    );
    let mut on_postfilter = vec![false; n];
    let mut on_deceased_register = vec![false; n];
    let outside = v.outside;
    if !outside.postfilter.is_empty() || !outside.deceased_register.is_empty() {
        for i in 0..n {
            let Some(key) = address_key(postcode.get(i), number.get(i), suffix.get(i)) else {
                continue;
            };
            on_postfilter[i] = outside.postfilter.contains(&key);
            on_deceased_register[i] = deceased_key(&key, last_name.get(i))
                .is_some_and(|k| outside.deceased_register.contains(&k));
        }
    }

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

    let reach = reach(c, &outside.do_not_call)?;
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
        recipient,
        deceased,
        on_deceased_register,
        on_postfilter,
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
            let values = contact::Values {
                email: email[i],
                phone: phone[i],
                mobile: mobile[i],
                app_id: app[i],
                street: street[i],
                house_number: number[i],
                postcode: postcode[i],
                city: city[i],
                country: country[i],
            };
            contact::reach(&values, dnc)
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
            preference: Preference::of(status),
            line,
        };
        let w = out
            .entry(rid)
            .or_insert_with(|| Box::new([None; Slot::COUNT]));
        preferences::enter(w, me, cat, chan, relation[rid as usize]);
    }
    Ok(out)
}
