//! `report.html`: one self-contained page (no scripts, no network) of a run for the people
//! who look rather than query: cells per category x channel x outcome as bars, quarantined
//! rows by table and reason, and the trend over the previous published nights in the same
//! output root (eligible cells per channel, quarantined rows, changes).
//!
//! Built from the manifests only: tonight's, and those of earlier nights. Every figure
//! shown is also in a `data-*` attribute naming what it counts, so a test (or a script) can
//! check the page against the manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

use chrono::NaiveDate;
use serde_json::Value;

/// Earlier nights the trend shows, at most.
pub const NIGHTS: usize = 30;

/// The manifests of the published nights in `root` before `as_of`, oldest first, at most
/// `NIGHTS`; a manifest that cannot be read is left out.
pub fn history(root: &Path, as_of: NaiveDate) -> Vec<Value> {
    let nights: Vec<_> = crate::changes::published(root)
        .into_iter()
        .filter(|(d, _)| *d < as_of)
        .collect();
    let skip = nights.len().saturating_sub(NIGHTS);
    nights
        .into_iter()
        .skip(skip)
        .filter_map(|(_, p)| {
            let text = std::fs::read_to_string(p.join("manifest.json")).ok()?;
            serde_json::from_str(&text).ok()
        })
        .collect()
}

const CHANNELS: [&str; 5] = ["email", "sms", "app", "post", "phone"];

/// Colours of outcomes: eligible ones green, the rest by reason.
fn colour(eligible: bool, outcome: &str) -> &'static str {
    if eligible {
        return if outcome == "consent" {
            "#1b7837"
        } else {
            "#7fbf7b"
        };
    }
    match outcome {
        "expired" => "#bababa",
        "no_contact_point" => "#e0e0e0",
        "opted_out" | "objected" => "#d6604d",
        "erasure_requested" | "retention_expired" => "#b2182b",
        "deceased" | "on_deceased_register" => "#4d4d4d",
        "consent_required_by_law" | "no_consent" => "#f4a582",
        "do_not_call" | "postfilter" => "#92c5de",
        _ => "#fddbc7",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The night's quarantined rows, all tables.
fn quarantined(m: &Value) -> u64 {
    m["inputs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|i| i["quarantined"].as_object().into_iter().flatten())
        .map(|(_, n)| num(n))
        .sum()
}

/// The night's eligible cells per channel.
fn eligible_per_channel(m: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for c in m["cells"].as_array().into_iter().flatten() {
        if c["eligible"] == Value::Bool(true) {
            let ch = c["channel"].as_str().unwrap_or_default().to_string();
            *out.entry(ch).or_default() += num(&c["cells"]);
        }
    }
    out
}

/// The page for the run of `manifest`, with the trend over `history` (oldest first).
pub fn html(manifest: &Value, history: &[Value]) -> String {
    let mut h = String::new();
    let as_of = manifest["as_of"].as_str().unwrap_or_default();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Eligibility as of {as_of}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{padding:2px 8px;text-align:right;border-bottom:1px solid #eee}}\
         th:first-child,td:first-child,td:last-child{{text-align:left}}\
         .legend span{{display:inline-block;margin-right:1em}}\
         .legend i{{display:inline-block;width:10px;height:10px;margin-right:4px}}\
         </style></head><body>\n<h1>Eligibility as of {as_of}</h1>\n"
    );
    let _ = writeln!(
        h,
        "<p>{} {}, law table {} ({}), pipeline sha256 {}, started {}, finished {}, peak memory {} MiB.</p>",
        escape(manifest["tool"].as_str().unwrap_or_default()),
        escape(manifest["tool_version"].as_str().unwrap_or_default()),
        escape(manifest["law"]["version"].as_str().unwrap_or_default()),
        escape(manifest["law"]["table"].as_str().unwrap_or_default()),
        escape(&manifest["pipeline_sha256"].as_str().unwrap_or_default().chars().take(12).collect::<String>()),
        escape(manifest["started_at"].as_str().unwrap_or_default()),
        escape(manifest["finished_at"].as_str().unwrap_or_default()),
        manifest["peak_memory_mib"]
    );
    cells(&mut h, manifest);
    quarantine(&mut h, manifest);
    trend(&mut h, manifest, history);
    h.push_str("</body></html>\n");
    h
}

/// (eligible, the basis or reason, cells).
type Outcome = (bool, String, u64);

/// The width of a category x channel's bar.
const WIDTH: f64 = 360.0;

/// A bar per category x channel, a segment per outcome, and the counts.
fn cells(h: &mut String, m: &Value) {
    let mut per: BTreeMap<(String, String), Vec<Outcome>> = BTreeMap::new();
    let mut outcomes: BTreeSet<(bool, String)> = BTreeSet::new();
    for c in m["cells"].as_array().into_iter().flatten() {
        let key = (
            c["category"].as_str().unwrap_or_default().to_string(),
            c["channel"].as_str().unwrap_or_default().to_string(),
        );
        let eligible = c["eligible"] == Value::Bool(true);
        let outcome = c["outcome"].as_str().unwrap_or_default().to_string();
        outcomes.insert((!eligible, outcome.clone()));
        per.entry(key)
            .or_default()
            .push((eligible, outcome, num(&c["cells"])));
    }
    h.push_str("<h2>Cells per category and channel</h2>\n<p class=\"legend\">");
    for (not_eligible, outcome) in &outcomes {
        let _ = write!(
            h,
            "<span><i style=\"background:{}\"></i>{}{}</span>",
            colour(!not_eligible, outcome),
            if *not_eligible { "" } else { "eligible: " },
            escape(outcome)
        );
    }
    h.push_str("</p>\n<table><tr><th>category</th><th>channel</th><th>eligible</th><th>of all</th><th></th><th>by outcome</th></tr>\n");
    for ((category, channel), mut list) in per {
        list.sort_by(|a, b| b.0.cmp(&a.0).then(b.2.cmp(&a.2)));
        let all: u64 = list.iter().map(|x| x.2).sum();
        let eligible: u64 = list.iter().filter(|x| x.0).map(|x| x.2).sum();
        let _ = write!(
            h,
            "<tr><td>{c}</td><td>{ch}</td><td data-eligible=\"{c}/{ch}\">{eligible}</td><td>{all}</td><td><svg width=\"{WIDTH}\" height=\"14\">",
            c = escape(&category),
            ch = escape(&channel)
        );
        let mut x = 0.0;
        for (e, outcome, n) in &list {
            let w = if all == 0 {
                0.0
            } else {
                WIDTH * *n as f64 / all as f64
            };
            let _ = write!(
                h,
                "<rect x=\"{x:.1}\" width=\"{w:.1}\" height=\"14\" fill=\"{}\"><title>{}: {n}</title></rect>",
                colour(*e, outcome),
                escape(outcome)
            );
            x += w;
        }
        h.push_str("</svg></td><td>");
        let parts: Vec<String> = list
            .iter()
            .map(|(_, outcome, n)| {
                format!(
                    "{o} <b data-cell=\"{c}/{ch}/{o}\">{n}</b>",
                    o = escape(outcome),
                    c = escape(&category),
                    ch = escape(&channel)
                )
            })
            .collect();
        h.push_str(&parts.join(", "));
        h.push_str("</td></tr>\n");
    }
    h.push_str("</table>\n");
}

/// Quarantined rows per table and reason, with a bar per table.
fn quarantine(h: &mut String, m: &Value) {
    h.push_str("<h2>Quarantined rows</h2>\n<table><tr><th>table</th><th>read</th><th>valid</th><th>quarantined</th><th></th><th>by reason</th></tr>\n");
    let inputs: Vec<&Value> = m["inputs"].as_array().into_iter().flatten().collect();
    let most = inputs
        .iter()
        .map(|i| {
            i["quarantined"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, n)| num(n))
                .sum::<u64>()
        })
        .max()
        .unwrap_or(0)
        .max(1);
    for i in inputs {
        let table = escape(i["table"].as_str().unwrap_or_default());
        let reasons: Vec<(&String, u64)> = i["quarantined"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(r, n)| (r, num(n)))
            .collect();
        let total: u64 = reasons.iter().map(|r| r.1).sum();
        let w = 200.0 * total as f64 / most as f64;
        let _ = write!(
            h,
            "<tr><td>{table}</td><td>{}</td><td>{}</td><td data-quarantined=\"{table}\">{total}</td>\
             <td><svg width=\"200\" height=\"12\"><rect width=\"{w:.1}\" height=\"12\" fill=\"#d6604d\"/></svg></td><td>",
            num(&i["rows_read"]),
            num(&i["rows_valid"])
        );
        let parts: Vec<String> = reasons
            .iter()
            .map(|(r, n)| {
                format!(
                    "{r} <b data-quarantine=\"{table}/{r}\">{n}</b>",
                    r = escape(r)
                )
            })
            .collect();
        h.push_str(&parts.join(", "));
        h.push_str("</td></tr>\n");
    }
    h.push_str("</table>\n");
}

/// Lines over the nights (earlier ones, then tonight) and their figures in a table.
fn trend(h: &mut String, m: &Value, history: &[Value]) {
    let nights: Vec<&Value> = history.iter().chain([m]).collect();
    let _ = writeln!(h, "<h2>The last {} published nights</h2>", nights.len());
    let mut series: Vec<(String, &'static str, Vec<u64>)> = CHANNELS
        .iter()
        .zip(["#2166ac", "#4393c3", "#762a83", "#1b7837", "#e08214"])
        .map(|(ch, colour)| {
            let points = nights
                .iter()
                .map(|n| eligible_per_channel(n).get(*ch).copied().unwrap_or(0))
                .collect();
            (format!("eligible {ch}"), colour, points)
        })
        .collect();
    series.push((
        "quarantined rows".into(),
        "#b2182b",
        nights.iter().map(|n| quarantined(n)).collect(),
    ));
    series.push((
        "changes".into(),
        "#636363",
        nights
            .iter()
            .map(|n| num(&n["outputs"]["changes"]["rows"]))
            .collect(),
    ));
    let (w, ht) = (640.0, 200.0);
    let top = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let step = if nights.len() > 1 {
        w / (nights.len() - 1) as f64
    } else {
        0.0
    };
    let _ = write!(h, "<svg width=\"{w}\" height=\"{}\">", ht + 10.0);
    for (name, colour, points) in &series {
        let path: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "{:.1},{:.1}",
                    i as f64 * step,
                    5.0 + ht - ht * *v as f64 / top
                )
            })
            .collect();
        let _ = write!(
            h,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
            path.join(" "),
            escape(name)
        );
        if points.len() == 1 {
            let _ = write!(
                h,
                "<circle cx=\"0\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>",
                5.0 + ht - ht * points[0] as f64 / top
            );
        }
    }
    h.push_str("</svg>\n<p class=\"legend\">");
    for (name, colour, _) in &series {
        let _ = write!(
            h,
            "<span><i style=\"background:{colour}\"></i>{}</span>",
            escape(name)
        );
    }
    h.push_str("</p>\n<table><tr><th>as of</th>");
    for (name, _, _) in &series {
        let _ = write!(h, "<th>{}</th>", escape(name));
    }
    h.push_str("</tr>\n");
    for (i, n) in nights.iter().enumerate() {
        let date = escape(n["as_of"].as_str().unwrap_or_default());
        let _ = write!(h, "<tr><td>{date}</td>");
        for (name, _, points) in &series {
            let _ = write!(
                h,
                "<td data-trend=\"{date}/{}\">{}</td>",
                escape(name),
                points[i]
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}
