//! Audiences: where to reach each eligible cell. One row per eligible cell with its contact
//! point as the contract defines it (the channel's e-mail address, number, postal lines or
//! app id), and for the aftersales categories one row per vehicle of the record.
//!
//! Frames in, frames out; no I/O. The contact point of a cell comes from the same `Reach`
//! that decided whether the channel is reachable, so an eligible cell always has one.

use polars::prelude::*;
use serde::Serialize;

use crate::cells::Cell;
use crate::contact::{self, NumberField};
use crate::error::Result;
use crate::policy::{Basis, Channel, Decision, Law, Slot};
use crate::records::Records;

/// The contact point of one channel of a record; what the channel does not use is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ContactPoint {
    /// Salutation name: initials, infix and last name, or else the company name.
    pub name: Option<String>,
    /// Lowercased.
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub app_id: Option<String>,
    /// Street, house number and suffix.
    pub address: Option<String>,
    /// `1234 AB` for a Dutch address, as written for a foreign one.
    pub postcode: Option<String>,
    pub city: Option<String>,
    /// `NL` for a Dutch address (country empty, NL, NLD or Nederland), as written otherwise.
    pub country: Option<String>,
}

/// The text columns of a record's contact data, looked up by `rid`.
pub struct Fields<'a> {
    columns: Vec<(&'static str, &'a StringChunked)>,
}

const FIELDS: [&str; 15] = [
    "initials",
    "first_name",
    "infix",
    "last_name",
    "company_name",
    "street",
    "house_number",
    "house_number_suffix",
    "postcode",
    "city",
    "country",
    "email",
    "phone",
    "mobile",
    "app_id",
];

impl<'a> Fields<'a> {
    pub fn new(r: &'a Records) -> Result<Fields<'a>> {
        let columns = FIELDS
            .iter()
            .map(|f| Ok((*f, r.customers.column(f)?.str()?)))
            .collect::<Result<_>>()?;
        Ok(Fields { columns })
    }

    /// The (trimmed, non-empty) value of customers column `name` of record `rid`.
    pub fn get(&self, name: &str, rid: usize) -> Option<&'a str> {
        self.columns
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, c)| c.get(rid))
    }
}

/// The contact point a cell of channel `ch` of record `rid` uses; `opt_in` tells a phone
/// cell whether its winning preference is an opt-in (then the first valid number is
/// called, else the first not on do_not_call). Empty when the channel has none.
pub fn contact_point(
    r: &Records,
    f: &Fields,
    rid: usize,
    ch: Channel,
    opt_in: bool,
) -> ContactPoint {
    let reach = r.reach[rid];
    let number = |field: Option<NumberField>| {
        field
            .and_then(|n| f.get(n.column(), rid))
            .and_then(contact::phone)
            .map(|p| p.e164)
    };
    let mut p = ContactPoint {
        name: name(f, rid),
        ..ContactPoint::default()
    };
    match ch {
        Channel::Email => p.email = f.get("email", rid).and_then(contact::email),
        Channel::Sms => p.phone = number(reach.sms),
        Channel::Phone => p.phone = number(reach.phone(opt_in)),
        Channel::App => p.app_id = f.get("app_id", rid).map(str::to_string),
        Channel::Post if reach.post => {
            let country = f.get("country", rid);
            let dutch = contact::is_dutch(country);
            let postcode = f.get("postcode", rid);
            p.address = Some(
                ["street", "house_number", "house_number_suffix"]
                    .iter()
                    .filter_map(|c| f.get(c, rid))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            p.postcode = if dutch {
                postcode.and_then(contact::dutch_postcode)
            } else {
                postcode.map(str::to_string)
            };
            p.city = f.get("city", rid).map(str::to_string);
            p.country = if dutch {
                Some("NL".to_string())
            } else {
                country.map(str::to_string)
            };
        }
        Channel::Post => {}
    }
    p
}

/// Initials, infix and last name when there is a last name, else the company name.
fn name(f: &Fields, rid: usize) -> Option<String> {
    if f.get("last_name", rid).is_some() {
        Some(
            ["initials", "infix", "last_name"]
                .iter()
                .filter_map(|c| f.get(c, rid))
                .collect::<Vec<_>>()
                .join(" "),
        )
    } else {
        f.get("company_name", rid).map(str::to_string)
    }
}

/// A Dutch licence plate without dashes or spaces, in capitals: `XK-396-F` is `XK396F`.
pub fn plate(raw: &str) -> String {
    raw.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .flat_map(char::to_uppercase)
        .collect()
}

/// The audience columns, in order.
pub const COLUMNS: [&str; 20] = [
    "customer_id",
    "source",
    "relation",
    "basis",
    "expires_on",
    "law",
    "name",
    "email",
    "phone",
    "app_id",
    "address",
    "postcode",
    "city",
    "country",
    "vehicle_id",
    "license_plate",
    "make",
    "model",
    "first_registration_on",
    "apk_due_on",
];

/// The columns of `audiences/` (`COLUMNS` with their types), for an empty dataset.
pub fn schema() -> Schema {
    COLUMNS
        .iter()
        .map(|c| {
            let t = match *c {
                "expires_on" | "first_registration_on" | "apk_due_on" => DataType::Date,
                _ => DataType::String,
            };
            Field::new((*c).into(), t)
        })
        .collect()
}

/// One audience row: a cell, its contact point and perhaps one of the record's vehicles.
struct Row {
    cell: Cell,
    point: std::sync::Arc<ContactPoint>,
    vehicle: Option<u32>,
}

/// The audiences of the eligible ones of `cells`, per (slot, frame of `COLUMNS`), in the
/// order of `cells`.
pub fn audiences(r: &Records, cells: &[Cell], law: &Law) -> Result<Vec<(Slot, DataFrame)>> {
    let f = Fields::new(r)?;
    let mut rows: Vec<Vec<Row>> = (0..Slot::COUNT).map(|_| Vec::new()).collect();
    for c in cells {
        let Decision::Eligible(basis) = c.decision else {
            continue;
        };
        let rid = c.rid as usize;
        let point = std::sync::Arc::new(contact_point(
            r,
            &f,
            rid,
            c.slot.channel(),
            basis == Basis::Consent,
        ));
        let out = &mut rows[c.slot.index()];
        let vehicles = r.vehicle_rows[rid]..r.vehicle_rows[rid + 1];
        if c.slot.category().per_vehicle() && !vehicles.is_empty() {
            out.extend(vehicles.map(|v| Row {
                cell: *c,
                point: point.clone(),
                vehicle: Some(v),
            }));
        } else {
            out.push(Row {
                cell: *c,
                point,
                vehicle: None,
            });
        }
    }
    rows.into_iter()
        .enumerate()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(slot, rows)| Ok((Slot(slot as u8), frame(r, &rows, law)?)))
        .collect()
}

fn frame(r: &Records, rows: &[Row], law: &Law) -> Result<DataFrame> {
    let n = rows.len();
    let by_rid = IdxCa::from_vec(
        "i".into(),
        rows.iter().map(|x| x.cell.rid as IdxSize).collect(),
    );
    let by_vehicle: IdxCa = rows
        .iter()
        .map(|x| x.vehicle.map(|v| v as IdxSize))
        .collect();
    let text = |name: &str, f: &dyn Fn(&Row) -> Option<&str>| {
        rows.iter()
            .map(f)
            .collect::<StringChunked>()
            .with_name(name.into())
            .into_column()
    };
    let vehicle = |name: &str, dtype: DataType| -> Result<Column> {
        Ok(if r.vehicles.width() == 0 {
            Column::full_null(name.into(), n, &dtype)
        } else {
            r.vehicles.column(name)?.take(&by_vehicle)?
        })
    };
    let plates: StringChunked = vehicle("license_plate", DataType::String)?
        .str()?
        .iter()
        .map(|p| p.map(plate))
        .collect();
    let expires = Int32Chunked::from_vec(
        "expires_on".into(),
        rows.iter().map(|x| x.cell.expires).collect(),
    )
    .into_date()
    .into_column();
    let columns = vec![
        r.ids.column("customer_id")?.take(&by_rid)?,
        r.ids.column("source")?.take(&by_rid)?,
        text("relation", &|x| {
            Some(r.relation[x.cell.rid as usize].name())
        }),
        text("basis", &|x| match x.cell.decision {
            Decision::Eligible(b) => Some(b.code()),
            Decision::NotEligible(_) => None,
        }),
        expires,
        rows.iter()
            .map(|x| x.cell.law.map(|l| law.rule(l).id.as_str()))
            .collect::<StringChunked>()
            .with_name("law".into())
            .into_column(),
        text("name", &|x| x.point.name.as_deref()),
        text("email", &|x| x.point.email.as_deref()),
        text("phone", &|x| x.point.phone.as_deref()),
        text("app_id", &|x| x.point.app_id.as_deref()),
        text("address", &|x| x.point.address.as_deref()),
        text("postcode", &|x| x.point.postcode.as_deref()),
        text("city", &|x| x.point.city.as_deref()),
        text("country", &|x| x.point.country.as_deref()),
        vehicle("vehicle_id", DataType::String)?,
        plates.with_name("license_plate".into()).into_column(),
        vehicle("make", DataType::String)?,
        vehicle("model", DataType::String)?,
        vehicle("first_registration_on", DataType::Date)?,
        vehicle("apk_due_on", DataType::Date)?,
    ];
    Ok(DataFrame::new(n, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plates_lose_dashes_and_case() {
        assert_eq!(plate("XK-396-F"), "XK396F");
        assert_eq!(plate("4-rjt-14"), "4RJT14");
        assert_eq!(plate("12 AB 34"), "12AB34");
    }
}
