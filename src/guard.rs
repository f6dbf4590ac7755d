//! The truncation guard: a night whose extract lost rows (an export that broke half way)
//! must not be published, or a platform following `changes/` would unsubscribe everyone.
//! Each table's valid row count is compared with the previous published night's; a drop
//! beyond the table's limit, or an empty required table, fails the run before anything is
//! published, unless the operator accepts that table's drop.
//!
//! Reads the previous night's `manifest.json` only; decides nothing about cells.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::manifest::Input;
use crate::schema::Table;

/// How far each table's valid rows may drop from one published night to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShrinkLimits {
    /// Percent, for tables not named in `tables`.
    pub default: u32,
    pub tables: BTreeMap<Table, u32>,
}

impl Default for ShrinkLimits {
    fn default() -> Self {
        ShrinkLimits {
            default: 10,
            tables: BTreeMap::new(),
        }
    }
}

impl ShrinkLimits {
    pub fn of(&self, t: Table) -> u32 {
        self.tables.get(&t).copied().unwrap_or(self.default)
    }
}

/// Fails with `Error::Shrink` (exit 65) for every table of tonight's `inputs` (a table that
/// is gone counts as 0 rows) whose valid rows dropped more than its limit from the previous
/// published night `previous`, and for every required table without a valid row; tables in
/// `accept` pass.
pub fn check(
    inputs: &[Input],
    previous: Option<(NaiveDate, &Path)>,
    limits: &ShrinkLimits,
    accept: &[Table],
) -> Result<()> {
    let valid = |t: Table| {
        inputs
            .iter()
            .find(|i| i.table == t.name())
            .map_or(0, |i| i.stats.rows_valid)
    };
    check_valid(valid, previous, limits, accept)
}

/// `check` of tonight's valid rows per table, `tonight` (0 for a table that is gone).
pub fn check_valid(
    tonight: impl Fn(Table) -> u64,
    previous: Option<(NaiveDate, &Path)>,
    limits: &ShrinkLimits,
    accept: &[Table],
) -> Result<()> {
    let before: BTreeMap<String, u64> = previous
        .and_then(|(_, run)| std::fs::read(run.join("manifest.json")).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|m| {
            m["inputs"].as_array().map(|inputs| {
                inputs
                    .iter()
                    .filter_map(|i| {
                        Some((i["table"].as_str()?.to_string(), i["rows_valid"].as_u64()?))
                    })
                    .collect()
            })
        })
        .unwrap_or_default();
    let mut problems = Vec::new();
    for t in Table::ALL {
        if accept.contains(&t) {
            continue;
        }
        let now = tonight(t);
        if t.required() && now == 0 {
            problems.push(format!(
                "{t}: no valid row tonight (a required table is never empty)"
            ));
            continue;
        }
        let (Some(&then), Some((date, _))) = (before.get(t.name()), previous) else {
            continue;
        };
        let limit = limits.of(t);
        // now < then * (100 - limit) / 100, in integers
        if then > 0 && u128::from(now) * 100 < u128::from(then) * u128::from(100 - limit.min(100)) {
            let drop = (then - now) as f64 * 100.0 / then as f64;
            problems.push(format!(
                "{t}: {now} valid rows tonight against {then} on {date}, a drop of {drop:.1}% (at most {limit}% allowed)"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Shrink { problems })
    }
}
