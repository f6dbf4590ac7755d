//! The command line: `eligibility run`, `explain`, `generate`, `validate` and `law`.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::error::{Error, Exit, Result};
use crate::pipeline::Pipeline;
use crate::progress::{self, LogFormat, Progress};
use crate::route::Shard;
use crate::run::{self, Job};
use crate::schema::Table;

#[derive(Parser, Debug)]
#[command(
    name = "eligibility",
    version,
    about = "Marketing eligibility from a dealer's nightly DMS extract"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How log lines on stderr are written: text, or one JSON object a line. `RUST_LOG`
    /// filters them (default info; warnings only with `--quiet`).
    #[arg(
        long,
        global = true,
        env = "ELIGIBILITY_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decide every cell of one night's extract and publish <out>/as_of=DATE/.
    Run {
        /// The pipeline file: input format, output folder, policy.
        #[arg(long, env = "ELIGIBILITY_PIPELINE")]
        pipeline: PathBuf,
        /// The day to decide for, YYYY-MM-DD (default: today in Europe/Amsterdam).
        #[arg(long, env = "ELIGIBILITY_AS_OF", value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// A backfill: decide every day from this one to --to, in order, then refresh the
        /// changes of the first published night after --to.
        #[arg(long, value_parser = parse_date, requires = "to", conflicts_with = "as_of")]
        from: Option<NaiveDate>,
        /// The last day of a backfill (with --from).
        #[arg(long, value_parser = parse_date, requires = "from")]
        to: Option<NaiveDate>,
        /// The extract folder (overrides input.dir of the pipeline file); `{as_of}` in it is
        /// the day decided, e.g. /data/dms/{as_of}.
        #[arg(long, env = "ELIGIBILITY_INPUT")]
        input: Option<PathBuf>,
        /// The output root (overrides output.dir of the pipeline file).
        #[arg(long, env = "ELIGIBILITY_OUT")]
        out: Option<PathBuf>,
        /// No progress lines on stderr.
        #[arg(long, short, env = "ELIGIBILITY_QUIET")]
        quiet: bool,
        /// Publish even though this table's valid rows dropped more than its limit since the
        /// previous published night (or it is an empty required table); repeatable, or
        /// comma-separated in the variable.
        #[arg(
            long,
            env = "ELIGIBILITY_ACCEPT_SHRINK",
            value_name = "TABLE",
            value_parser = parse_table,
            value_delimiter = ','
        )]
        accept_shrink: Vec<Table>,
        /// Decide only the dealers of shard I of N (0 <= I < N), e.g. 2/4, into a shard
        /// result that `commit` publishes with the others; in a Kubernetes Indexed Job:
        /// --shard $(JOB_COMPLETION_INDEX)/N.
        #[arg(long, env = "ELIGIBILITY_SHARD", value_name = "I/N", value_parser = parse_shard,
              conflicts_with_all = ["from", "to"])]
        shard: Option<Shard>,
    },
    /// Publish the night <out>/as_of=DATE/ from the results of its N shards (`run --shard
    /// I/N`): checks they are all there, of the same inputs and pipeline, then writes
    /// changes/ against the previous night.
    Commit {
        #[arg(long, env = "ELIGIBILITY_PIPELINE")]
        pipeline: PathBuf,
        /// The night, YYYY-MM-DD (default: today in Europe/Amsterdam).
        #[arg(long, env = "ELIGIBILITY_AS_OF", value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// How many shards the night was split into.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
        shards: u32,
        /// The output root (overrides output.dir of the pipeline file).
        #[arg(long, env = "ELIGIBILITY_OUT")]
        out: Option<PathBuf>,
        #[arg(long, short, env = "ELIGIBILITY_QUIET")]
        quiet: bool,
        /// As for `run`: publish although this table shrank.
        #[arg(
            long,
            env = "ELIGIBILITY_ACCEPT_SHRINK",
            value_name = "TABLE",
            value_parser = parse_table,
            value_delimiter = ','
        )]
        accept_shrink: Vec<Table>,
    },
    /// Generate a realistic extract of any size (deterministic for the same arguments).
    Generate {
        /// Customer records to generate.
        #[arg(long)]
        customers: u64,
        /// Dealers (default: one per 5,000 customer records), sizes skewed.
        #[arg(long)]
        dealers: Option<u64>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = GenFormat::Csv)]
        format: GenFormat,
        /// The date the data is made for: nothing valid is dated after it.
        #[arg(long, value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// The folder to write the extract to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Explain one customer record: every cell, the rule that decided it, and why.
    Explain {
        #[arg(long, env = "ELIGIBILITY_PIPELINE")]
        pipeline: PathBuf,
        /// The record's dealer_id.
        #[arg(long)]
        dealer: String,
        /// The record's customer_id.
        #[arg(long)]
        customer: String,
        /// The day to decide for, YYYY-MM-DD (default: today in Europe/Amsterdam).
        #[arg(long, env = "ELIGIBILITY_AS_OF", value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// The extract folder (overrides input.dir of the pipeline file).
        #[arg(long, env = "ELIGIBILITY_INPUT")]
        input: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check the pipeline file and the extract's headers; report every problem, write
    /// nothing; warn for every term that the law in force on the as-of date caps.
    Validate {
        #[arg(long, env = "ELIGIBILITY_PIPELINE")]
        pipeline: PathBuf,
        /// The extract folder (overrides input.dir of the pipeline file).
        #[arg(long, env = "ELIGIBILITY_INPUT")]
        input: Option<PathBuf>,
        /// The day whose law the terms are checked against (default: today).
        #[arg(long, env = "ELIGIBILITY_AS_OF", value_parser = parse_date)]
        as_of: Option<NaiveDate>,
    },
    /// Print the law table (the statutory rules as data), or the rules in force on a day.
    Law {
        /// Only the rules in force on this day, YYYY-MM-DD.
        #[arg(long, value_parser = parse_date)]
        as_of: Option<NaiveDate>,
        /// The law table of this pipeline file (`[law] file`); default: the built-in table.
        #[arg(long, env = "ELIGIBILITY_PIPELINE")]
        pipeline: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum GenFormat {
    Csv,
    Parquet,
}

fn parse_table(s: &str) -> std::result::Result<Table, String> {
    Table::ALL
        .into_iter()
        .find(|t| t.name() == s)
        .ok_or_else(|| {
            format!(
                "`{s}` is not a table; tables are {}",
                Table::ALL.map(Table::name).join(", ")
            )
        })
}

fn parse_shard(s: &str) -> std::result::Result<Shard, String> {
    let bad = || format!("{s}: a shard is I/N with 0 <= I < N <= 4096, e.g. 0/4");
    let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
    let (index, count) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if index >= count || count > 4096 {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

fn parse_date(s: &str) -> std::result::Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("`{s}` is not a YYYY-MM-DD date"))
}

/// Runs a parsed command line; what it prints goes to stdout, progress to stderr.
pub fn main(cli: Cli) -> Result<Exit> {
    let quiet = matches!(
        cli.command,
        Command::Run { quiet: true, .. } | Command::Commit { quiet: true, .. }
    );
    progress::init_logs(cli.log_format, quiet);
    match cli.command {
        Command::Run {
            pipeline,
            as_of,
            from,
            to,
            input,
            out,
            quiet,
            accept_shrink,
            shard,
        } => {
            let progress = Progress::new(quiet);
            let pipeline = Pipeline::load(&pipeline)?;
            let days: Vec<NaiveDate> = match (from, to) {
                (Some(from), Some(to)) if from <= to => {
                    from.iter_days().take_while(|d| *d <= to).collect()
                }
                (Some(from), Some(to)) => {
                    return Err(Error::Usage(format!("--from {from} is after --to {to}")))
                }
                _ => vec![as_of.unwrap_or_else(run::today)],
            };
            let folder = input
                .clone()
                .or_else(|| pipeline.input_dir.clone())
                .unwrap_or_default();
            let to_store = out
                .as_ref()
                .map_or(crate::remote::is_url(&pipeline.output_dir), |o| {
                    crate::remote::is_url(o)
                });
            if to.is_some() && to_store {
                return Err(Error::Usage(
                    "--from/--to: a backfill writes a local output root; run each night on its own for object storage".into(),
                ));
            }
            if days.len() > 1 && !folder.to_string_lossy().contains("{as_of}") {
                return Err(Error::Usage(format!(
                    "--from/--to: the extract folder {} has no {{as_of}}, so every day would read the same extract",
                    folder.display()
                )));
            }
            // each day published; a backfill then changed the night before the first
            // published one after the last day done (also when a later day fails)
            let mut done: Option<(NaiveDate, PathBuf)> = None;
            let mut failed = None;
            for day in &days {
                let mut job = Job::new(pipeline.clone(), *day, input.clone(), out.clone())?;
                job.accept_shrink.clone_from(&accept_shrink);
                job.arguments = std::env::args().collect();
                job.shard = shard;
                match crate::remote::run(&job, &progress) {
                    Ok(report) if shard.is_some() => println!(
                        "shard {}: {} cells decided\nshard result: {}",
                        job.shard.unwrap_or(Shard::WHOLE),
                        report.manifest.outputs["eligibility"].rows,
                        report.folder.display()
                    ),
                    Ok(report) => print!("{}", report.summary()),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
                done = Some((*day, job.out));
            }
            if let (true, Some((last, root))) = (to.is_some(), done) {
                if let Some(next) = run::next_published(&root, last) {
                    run::refresh(&pipeline, &root, next, &progress)?;
                    println!("refreshed changes/ of as_of={next} against as_of={last}");
                }
            }
            failed.map_or(Ok(Exit::Ok), Err)
        }
        Command::Commit {
            pipeline,
            as_of,
            shards,
            out,
            quiet,
            accept_shrink,
        } => {
            let pipeline = Pipeline::load(&pipeline)?;
            let as_of = as_of.unwrap_or_else(run::today);
            let out = Job::new(pipeline.clone(), as_of, Some(PathBuf::new()), out)?.out;
            let (folder, manifest) = crate::remote::commit(
                &pipeline,
                &out,
                as_of,
                shards as usize,
                &accept_shrink,
                &std::env::args().collect::<Vec<_>>(),
                &Progress::new(quiet),
            )?;
            let cells = &manifest["outputs"]["eligibility"]["rows"];
            let changed = &manifest["outputs"]["changes"]["rows"];
            println!(
                "as-of {as_of}: {shards} shards committed, {cells} cells, {changed} changed\noutput: {}",
                folder.display()
            );
            Ok(Exit::Ok)
        }
        Command::Generate {
            customers,
            dealers,
            seed,
            format,
            as_of,
            out,
        } => {
            let spec = crate::generate::Spec {
                customers,
                dealers,
                seed,
                parquet: matches!(format, GenFormat::Parquet),
                as_of: as_of.unwrap_or_else(run::today),
                out: out.clone(),
            };
            for (table, rows) in crate::generate::generate(&spec, &Progress::new(false))? {
                println!("{table:<12} {rows:>12} rows");
            }
            println!("extract: {}", out.display());
            Ok(Exit::Ok)
        }
        Command::Explain {
            pipeline,
            dealer,
            customer,
            as_of,
            input,
            json,
        } => {
            let mut job = Job::new(
                Pipeline::load(&pipeline)?,
                as_of.unwrap_or_else(run::today),
                input,
                None,
            )?;
            let _stage = crate::remote::local_input(&mut job, &Progress::new(true))?;
            let loaded = crate::explain::load(&job, dealer.trim(), &Progress::new(true))?;
            let e = loaded.explain(customer.trim())?;
            if json {
                let text =
                    serde_json::to_string_pretty(&e).map_err(|e| Error::Internal(e.to_string()))?;
                println!("{text}");
            } else {
                print!("{}", e.text());
            }
            Ok(Exit::Ok)
        }
        Command::Validate {
            pipeline,
            input,
            as_of,
        } => {
            let as_of = as_of.unwrap_or_else(run::today);
            let mut job = Job::new(Pipeline::load(&pipeline)?, as_of, input, None)?;
            let _stage = crate::remote::local_input(&mut job, &Progress::new(true))?;
            let found = run::check_extract(&job)?;
            println!("{}: pipeline file ok", pipeline.display());
            let p = &job.pipeline;
            println!(
                "law table {} ({}): {} rules in force on {as_of}",
                p.law.version,
                p.law.origin,
                p.law.in_force(as_of).len()
            );
            for w in crate::policy::capped_terms(&p.policy, &p.law, as_of) {
                println!("warning: {w}");
            }
            for (source, header) in found {
                println!(
                    "{}: {} ok ({} columns)",
                    source.path.display(),
                    source.table,
                    header.len()
                );
            }
            Ok(Exit::Ok)
        }
        Command::Law {
            as_of,
            pipeline,
            json,
        } => {
            let law = match pipeline {
                Some(p) => Pipeline::load(&p)?.law,
                None => crate::policy::Law::built_in(),
            };
            if json {
                let text = serde_json::to_string_pretty(&law.json(as_of))
                    .map_err(|e| Error::Internal(e.to_string()))?;
                println!("{text}");
            } else {
                print!("{}", law.text(as_of));
            }
            Ok(Exit::Ok)
        }
    }
}

impl From<Error> for Exit {
    fn from(e: Error) -> Exit {
        e.exit()
    }
}
