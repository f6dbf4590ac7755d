//! Audiences: where to reach each eligible cell. One row per eligible cell with its contact
//! point as the contract defines it (the channel's e-mail address, number, postal lines or
//! app id) and the record's vehicles as a list; a cell whose message is per vehicle
//! (`[output.per_vehicle]`, by default the APK reminder by post) has a row per vehicle.
//!
//! Frames in, frames out; no I/O. The contact point of a cell comes from the same `Reach`
//! that decided whether the channel is reachable, so an eligible cell always has one.

use polars::prelude::*;
use polars_arrow::array::ListArray;
use polars_arrow::offset::Offsets;
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

    /// The same on one line: a line break, tab or other control character inside the value
    /// becomes a space (a mailing platform's import takes a line break for a new record).
    fn line(&self, name: &str, rid: usize) -> Option<String> {
        self.get(name, rid).map(one_line)
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
        Channel::App => p.app_id = f.line("app_id", rid),
        Channel::Post if reach.post => {
            let country = f.get("country", rid);
            let dutch = contact::is_dutch(country);
            let postcode = f.get("postcode", rid);
            p.address = Some(
                ["street", "house_number", "house_number_suffix"]
                    .iter()
                    .filter_map(|c| f.line(c, rid))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            p.postcode = if dutch {
                postcode.and_then(contact::dutch_postcode)
            } else {
                postcode.map(one_line)
            };
            p.city = f.line("city", rid);
            p.country = if dutch {
                Some("NL".to_string())
            } else {
                country.map(one_line)
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
                .filter_map(|c| f.line(c, rid))
                .collect::<Vec<_>>()
                .join(" "),
        )
    } else {
        f.line("company_name", rid)
    }
}

/// A control character, or the line and paragraph separators U+2028 and U+2029.
pub fn breaks(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `text` with every run of whitespace that holds a control character (a line break, a tab)
/// and every other control character turned into one space.
pub fn one_line(text: &str) -> String {
    if !text.chars().any(breaks) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if breaks(c) || (gap && c.is_whitespace()) {
            if !gap {
                out.truncate(out.trim_end().len());
                out.push(' ');
            }
            gap = true;
        } else {
            out.push(c);
            gap = false;
        }
    }
    out
}

/// A Dutch licence plate without dashes or spaces, in capitals: `XK-396-F` is `XK396F`.
pub fn plate(raw: &str) -> String {
    raw.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .flat_map(char::to_uppercase)
        .collect()
}

/// The flat audience columns, in order; `vehicles` follows them in the Parquet files. The
/// vehicle columns are the row's vehicle on a per-vehicle cell's rows, else null.
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

/// The fields of a vehicle, in `vehicles` and in the CSV vehicle files.
pub const VEHICLE: [&str; 6] = [
    "vehicle_id",
    "license_plate",
    "make",
    "model",
    "first_registration_on",
    "apk_due_on",
];

fn dtype(column: &str) -> DataType {
    match column {
        "expires_on" | "first_registration_on" | "apk_due_on" => DataType::Date,
        _ => DataType::String,
    }
}

/// The type of `vehicles`: a list of vehicles (`VEHICLE`).
fn vehicles_dtype() -> DataType {
    DataType::List(Box::new(DataType::Struct(
        VEHICLE
            .iter()
            .map(|c| Field::new((*c).into(), dtype(c)))
            .collect(),
    )))
}

/// The columns of `audiences/` (`COLUMNS`, then `vehicles`), for an empty dataset.
pub fn schema() -> Schema {
    COLUMNS
        .iter()
        .map(|c| Field::new((*c).into(), dtype(c)))
        .chain([Field::new("vehicles".into(), vehicles_dtype())])
        .collect()
}

/// The columns of an audience's vehicles frame: the record, then `VEHICLE` (the CSV vehicle
/// files have `dealer_id` first).
pub fn vehicle_columns() -> Vec<&'static str> {
    ["customer_id", "source"]
        .into_iter()
        .chain(VEHICLE)
        .collect()
}

/// One audience row: a cell, its contact point and perhaps one of the record's vehicles.
struct Row {
    cell: Cell,
    point: std::sync::Arc<ContactPoint>,
    vehicle: Option<u32>,
}

/// The audience of one cell kind (slot) in one row group.
pub struct Audience {
    pub slot: Slot,
    /// `COLUMNS` and `vehicles`.
    pub rows: DataFrame,
    /// The vehicles listed in `rows` (`vehicle_columns`), a row each, for the CSV files;
    /// empty for a per-vehicle slot, whose rows name their vehicle.
    pub vehicles: DataFrame,
}

/// The audiences of the eligible ones of `cells`, per slot, in the order of `cells`;
/// `per_vehicle` tells the slots whose rows repeat per vehicle; the vehicles frames are
/// filled only `for_csv`.
pub fn audiences(
    r: &Records,
    cells: &[Cell],
    law: &Law,
    per_vehicle: &[bool; Slot::COUNT],
    for_csv: bool,
) -> Result<Vec<Audience>> {
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
        if per_vehicle[c.slot.index()] && !vehicles.is_empty() {
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
        .map(|(slot, rows)| {
            let slot = Slot(slot as u8);
            let (rows, vehicles) = frame(r, &rows, law, per_vehicle[slot.index()] || !for_csv)?;
            Ok(Audience {
                slot,
                rows,
                vehicles,
            })
        })
        .collect()
}

/// The frame of `rows` (`COLUMNS`, `vehicles`) and the frame of the vehicles it lists, a
/// row each (empty with `no_vehicle_rows`: a per-vehicle slot, or no CSV written).
fn frame(
    r: &Records,
    rows: &[Row],
    law: &Law,
    no_vehicle_rows: bool,
) -> Result<(DataFrame, DataFrame)> {
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
    let expires = Int32Chunked::from_vec(
        "expires_on".into(),
        rows.iter().map(|x| x.cell.expires).collect(),
    )
    .into_date()
    .into_column();
    let (listed, list) = vehicle_list(r, rows)?;
    let mut columns = vec![
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
    ];
    columns.extend(vehicle_fields(r, &by_vehicle)?);
    columns.push(list);
    let vehicles = if no_vehicle_rows {
        DataFrame::empty_with_schema(
            &vehicle_columns()
                .iter()
                .map(|c| Field::new((*c).into(), dtype(c)))
                .collect(),
        )
    } else {
        let parents = IdxCa::from_vec(
            "i".into(),
            listed
                .iter()
                .map(|(row, _)| by_rid.get(*row as usize).unwrap_or_default())
                .collect(),
        );
        let which: IdxCa = listed.iter().map(|(_, v)| Some(*v)).collect();
        let mut v = vec![
            r.ids.column("customer_id")?.take(&parents)?,
            r.ids.column("source")?.take(&parents)?,
        ];
        v.extend(vehicle_fields(r, &which)?);
        DataFrame::new(listed.len(), v)?
    };
    Ok((DataFrame::new(n, columns)?, vehicles))
}

/// The `VEHICLE` columns of the vehicles `which` (a null index gives nulls), licence plates
/// without dashes.
fn vehicle_fields(r: &Records, which: &IdxCa) -> Result<Vec<Column>> {
    VEHICLE
        .iter()
        .map(|name| {
            let dtype = dtype(name);
            if r.vehicles.width() == 0 {
                return Ok(Column::full_null((*name).into(), which.len(), &dtype));
            }
            let c = r.vehicles.column(name)?.take(which)?;
            Ok(if *name == "license_plate" {
                c.str()?
                    .iter()
                    .map(|p| p.map(plate))
                    .collect::<StringChunked>()
                    .with_name((*name).into())
                    .into_column()
            } else {
                c
            })
        })
        .collect()
}

/// `vehicles`: each row's vehicle on a per-vehicle row, else the record's vehicles; and the
/// (row, vehicle) pairs it lists, in order.
fn vehicle_list(r: &Records, rows: &[Row]) -> Result<(Vec<(IdxSize, IdxSize)>, Column)> {
    let mut listed: Vec<(IdxSize, IdxSize)> = Vec::new();
    let mut lengths = Vec::with_capacity(rows.len());
    for (i, x) in rows.iter().enumerate() {
        let before = listed.len();
        let rid = x.cell.rid as usize;
        let cars = x
            .vehicle
            .map_or(r.vehicle_rows[rid]..r.vehicle_rows[rid + 1], |v| v..v + 1);
        listed.extend(cars.map(|v| (i as IdxSize, v as IdxSize)));
        lengths.push(listed.len() - before);
    }
    let which: IdxCa = listed.iter().map(|(_, v)| Some(*v)).collect();
    let fields = vehicle_fields(r, &which)?;
    let values = StructChunked::from_columns("item".into(), listed.len(), &fields)?
        .into_series()
        .rechunk();
    let values = values.to_arrow(0, CompatLevel::newest());
    let offsets = Offsets::<i64>::try_from_lengths(lengths.into_iter())?;
    let list = ListArray::<i64>::new(
        ListArray::<i64>::default_datatype(values.dtype().clone()),
        offsets.into(),
        values,
        None,
    );
    Ok((
        listed,
        Series::from_arrow("vehicles".into(), Box::new(list))?.into_column(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_points_are_one_line() {
        assert_eq!(one_line("Dorpsstraat 1"), "Dorpsstraat 1");
        assert_eq!(one_line("Dorpsstraat\r\n 1"), "Dorpsstraat 1");
        assert_eq!(one_line("a \t b\u{7}c"), "a b c");
        assert_eq!(one_line("Citroën\n"), "Citroën ");
        assert_eq!(one_line("a\u{2028}b"), "a b");
    }

    #[test]
    fn plates_lose_dashes_and_case() {
        assert_eq!(plate("XK-396-F"), "XK396F");
        assert_eq!(plate("4-rjt-14"), "4RJT14");
        assert_eq!(plate("12 AB 34"), "12AB34");
    }
}
