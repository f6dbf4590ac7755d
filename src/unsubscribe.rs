//! `unsubscribe/`: the cells that were eligible on the previous published night and are not
//! tonight (turned ineligible, or gone with their record), each with the contact point the
//! mailing platform got for it: the previous night's audience row. What a platform keyed on
//! e-mail address, number or app id needs to stop sending the same day.
//!
//! Read from tonight's `changes/` and the previous night's `audiences/`, a dealer at a time.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::Result;
use crate::read;
use crate::write::{self, CsvFormat, CsvPart, RunDir, Written};

/// The columns of `unsubscribe/`: the cell, how it changed, and the contact point.
pub const COLUMNS: [&str; 14] = [
    "customer_id",
    "source",
    "category",
    "channel",
    "change",
    "new_reason",
    "name",
    "email",
    "phone",
    "app_id",
    "address",
    "postcode",
    "city",
    "country",
];

/// The contact point columns, from the previous night's audiences.
const CONTACT: [&str; 8] = [
    "name", "email", "phone", "app_id", "address", "postcode", "city", "country",
];

/// The columns of `unsubscribe/` with their types (all text), for an empty dataset.
pub fn schema() -> Schema {
    COLUMNS
        .iter()
        .map(|c| Field::new((*c).into(), DataType::String))
        .collect()
}

/// Writes `unsubscribe/dealer_id=D/part-0.parquet` for every dealer with a lost cell, and
/// with `csv` also `unsubscribe_csv/dealer_id=D/unsubscribe.csv` (with `one_csv`, all dealers
/// in `unsubscribe_csv/unsubscribe.csv`); files of mode `mode`. Returns what was written to
/// each.
pub fn write(
    dir: &RunDir,
    previous: &Path,
    csv: Option<CsvFormat>,
    one_csv: bool,
    mode: Option<u32>,
) -> Result<(Written, Written)> {
    let changes = dir.tmp.join("changes");
    let dealers: Vec<String> = std::fs::read_dir(&changes)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("dealer_id=") && n != "dealer_id=none")
                .collect()
        })
        .unwrap_or_default();
    let mut dealers = dealers;
    dealers.sort();
    let lost: Vec<(String, DataFrame, u64)> = dealers
        .par_iter()
        .map(|folder| {
            let lost = lost_cells(&changes.join(folder))?;
            if lost.height() == 0 {
                return Ok(None);
            }
            let mut df = with_contact(&lost, &previous.join("audiences").join(folder))?;
            let target = dir.tmp.join("unsubscribe").join(folder);
            std::fs::create_dir_all(&target).map_err(|e| write::output_error(&target, &e))?;
            let mut w =
                write::PartWriter::create(target.join("part-0.parquet"), df.schema(), mode, false)?
                    .with_metadata(dir.metadata());
            w.write(&mut df)?;
            Ok(Some((folder.clone(), df, w.finish()?)))
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let mut parquet = Written {
        path: "unsubscribe".into(),
        ..Written::default()
    };
    for (_, df, bytes) in &lost {
        parquet.rows += df.height() as u64;
        parquet.files += 1;
        parquet.bytes += bytes;
    }
    let mut csv_out = Written {
        path: "unsubscribe_csv".into(),
        ..Written::default()
    };
    let Some(format) = csv else {
        return Ok((parquet, csv_out));
    };
    let header: Vec<&'static str> = ["dealer_id"].into_iter().chain(COLUMNS).collect();
    let mut file: Option<CsvPart> = None;
    for (folder, df, _) in &lost {
        let dealer = write::unescape(folder.trim_start_matches("dealer_id="));
        let target = if one_csv {
            dir.tmp.join("unsubscribe_csv")
        } else {
            dir.tmp.join("unsubscribe_csv").join(folder)
        };
        if file.is_none() || !one_csv {
            std::fs::create_dir_all(&target).map_err(|e| write::output_error(&target, &e))?;
            if let Some(w) = file.take() {
                csv_out.bytes += w.finish()?;
            }
            file = Some(CsvPart::create(
                &target.join("unsubscribe.csv"),
                &header,
                format,
            )?);
            csv_out.files += 1;
        }
        if let Some(w) = file.as_mut() {
            w.write(&[("dealer_id", dealer.as_str())], df)?;
        }
        csv_out.rows += df.height() as u64;
    }
    if let Some(w) = file {
        csv_out.bytes += w.finish()?;
    }
    Ok((parquet, csv_out))
}

/// The parquet files below `dir`, in name order.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read_parquet(path: &Path, columns: &[&str]) -> Result<DataFrame> {
    read::guarded(path, || {
        let df = ParquetReader::new(read::open(path)?)
            .with_columns(Some(columns.iter().map(|c| (*c).into()).collect()))
            .finish()
            .map_err(|e| read::unreadable(path, None, e.to_string()))?;
        read::whole(path, df)
    })
}

/// Tonight's changes of one dealer that lost an eligible cell: customer_id, category,
/// channel, change, new_reason.
fn lost_cells(dir: &Path) -> Result<DataFrame> {
    let mut lost: Option<DataFrame> = None;
    for f in files(dir) {
        let df = read_parquet(
            &f,
            &[
                "customer_id",
                "category",
                "channel",
                "change",
                "old_eligible",
                "new_eligible",
                "new_reason",
            ],
        )?;
        let was = df
            .column("old_eligible")?
            .bool()?
            .fill_null_with_values(false)?;
        let is = df
            .column("new_eligible")?
            .bool()?
            .fill_null_with_values(false)?;
        let df = df
            .filter(&(was & !is))?
            .drop_many(["old_eligible", "new_eligible"]);
        match &mut lost {
            None => lost = Some(df),
            Some(l) => {
                l.vstack_mut(&df)?;
            }
        }
    }
    Ok(lost.unwrap_or_default())
}

/// `lost` with the contact point of each cell from the previous night's audience files of
/// the dealer (`audiences`); a cell without one (the audiences were not written, or the
/// previous night's file cannot be read) keeps empty contact columns.
fn with_contact(lost: &DataFrame, audiences: &Path) -> Result<DataFrame> {
    let slots: BTreeSet<(String, String)> = {
        let cat = lost.column("category")?.str()?;
        let ch = lost.column("channel")?.str()?;
        cat.iter()
            .zip(ch.iter())
            .filter_map(|(a, b)| Some((a?.to_string(), b?.to_string())))
            .collect()
    };
    let mut points: Vec<DataFrame> = Vec::new();
    for (category, channel) in &slots {
        let folder = audiences
            .join(format!("category={}", write::escape(category)))
            .join(format!("channel={}", write::escape(channel)));
        let wanted: Vec<&str> = ["customer_id", "source"]
            .into_iter()
            .chain(CONTACT)
            .collect();
        for f in files(&folder) {
            match read_parquet(&f, &wanted) {
                Ok(df) => {
                    let n = df.height();
                    let mut df = df;
                    df.with_column(Column::new_scalar(
                        "category".into(),
                        Scalar::from(PlSmallStr::from(category.as_str())),
                        n,
                    ))?;
                    df.with_column(Column::new_scalar(
                        "channel".into(),
                        Scalar::from(PlSmallStr::from(channel.as_str())),
                        n,
                    ))?;
                    points.push(df);
                }
                Err(e) => tracing::warn!("unsubscribe/: no contact points from {e}"),
            }
        }
    }
    let keys = ["customer_id", "category", "channel"].map(col);
    let mut joined = if points.is_empty() {
        let mut df = lost.clone();
        for c in ["source"].into_iter().chain(CONTACT) {
            df.with_column(Column::full_null(c.into(), df.height(), &DataType::String))?;
        }
        df.lazy()
    } else {
        // a per-vehicle cell has a row per car: one contact point per cell
        let points = concat(
            points.into_iter().map(IntoLazy::lazy).collect::<Vec<_>>(),
            UnionArgs::default(),
        )?
        .unique_stable_generic(Some(keys.to_vec()), UniqueKeepStrategy::First);
        let mut args = JoinArgs::new(JoinType::Left);
        args.maintain_order = MaintainOrderJoin::Left;
        lost.clone().lazy().join(points, keys.clone(), keys, args)
    };
    joined = joined.select(COLUMNS.map(col));
    Ok(joined.collect()?)
}
