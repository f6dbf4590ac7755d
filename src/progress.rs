//! Logs and progress on stderr, through `tracing`: a line per finished stage with the time
//! since the start and the memory in use, a byte bar while a large file is read (drawn only
//! on a terminal), and when stderr is not a terminal a line at least every 10 s, naming
//! what is being worked on, so that a piped or scheduled run is never silent for long.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-12-03T05:30:01.123456Z  INFO message key=value`
    Text,
    /// One JSON object a line: `timestamp`, `level`, `fields` (`message` and the values).
    Json,
}

/// Sends log lines to stderr: `RUST_LOG` filters them (for example `RUST_LOG=warn`), else
/// info and above, or warnings and errors only when `quiet`. Called once, by `main`.
pub fn init_logs(format: LogFormat, quiet: bool) {
    let default = if quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false);
    let _ = match format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs.json().try_init(),
    };
}

/// At most this long between two progress lines when stderr is not a terminal (the bars are
/// not drawn then); `ELIGIBILITY_PROGRESS_EVERY_MS` sets it, for tests.
const EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    start: Instant,
    quiet: bool,
    /// Bars of files read at the same time, drawn one under the other.
    bars: MultiProgress,
    /// What the heartbeat reports; it stops when this is dropped.
    state: Arc<Mutex<State>>,
}

/// The last line's time and step, and the bars still running.
struct State {
    last_line: Instant,
    last_step: Option<String>,
    bars: Vec<ProgressBar>,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let start = Instant::now();
        let state = Arc::new(Mutex::new(State {
            last_line: Instant::now(),
            last_step: None,
            bars: Vec::new(),
        }));
        if !quiet && !std::io::stderr().is_terminal() {
            let every = std::env::var("ELIGIBILITY_PROGRESS_EVERY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map_or(EVERY, Duration::from_millis);
            let weak = Arc::downgrade(&state);
            std::thread::spawn(move || heartbeat(&weak, start, every));
        }
        Progress {
            start,
            quiet,
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            state,
        }
    }

    /// Logs one line about a finished step, with the time since the start and the memory in
    /// use (Linux).
    pub fn step(&self, msg: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        let msg = msg.as_ref();
        let elapsed_s = (self.start.elapsed().as_secs_f64() * 10.0).round() / 10.0;
        let rss = resident_mib();
        self.bars.suspend(|| {
            if let Some(rss_mib) = rss {
                tracing::info!(elapsed_s, rss_mib, "{msg}");
            } else {
                tracing::info!(elapsed_s, "{msg}");
            }
        });
        if let Ok(mut s) = self.state.lock() {
            s.last_line = Instant::now();
            s.last_step = Some(msg.to_string());
        }
    }

    /// A bar counting bytes; hidden when quiet or when stderr is not a terminal.
    pub fn bytes(&self, label: &str, total: u64) -> ProgressBar {
        self.bar(
            label,
            total,
            "{msg} {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec})",
        )
    }

    /// A bar counting things done of `total`; hidden like `bytes`.
    pub fn count(&self, label: &str, total: u64) -> ProgressBar {
        self.bar(label, total, "{msg} {wide_bar} {pos}/{len} ({eta} left)")
    }

    fn bar(&self, label: &str, total: u64, template: &str) -> ProgressBar {
        if self.quiet {
            return ProgressBar::hidden();
        }
        let bar = self.bars.add(ProgressBar::new(total));
        let style =
            ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(label.to_string());
        if let Ok(mut s) = self.state.lock() {
            s.bars.retain(|b| !b.is_finished());
            s.bars.push(bar.clone());
        }
        bar
    }

    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// Logs a line whenever `every` has passed without one, until the `Progress` is dropped.
fn heartbeat(state: &Weak<Mutex<State>>, start: Instant, every: Duration) {
    let mut wait = every;
    loop {
        std::thread::sleep(wait);
        let Some(state) = state.upgrade() else {
            return;
        };
        let Ok(mut s) = state.lock() else {
            return;
        };
        // next, sleep until the line is due (at most a second, to notice the end)
        wait = every
            .saturating_sub(s.last_line.elapsed())
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        if s.last_line.elapsed() >= every {
            s.bars.retain(|b| !b.is_finished());
            let elapsed_s = (start.elapsed().as_secs_f64() * 10.0).round() / 10.0;
            let working = working(s.last_step.as_deref(), &s.bars);
            tracing::info!(elapsed_s, "working, {working}");
            s.last_line = Instant::now();
        }
    }
}

/// What the run is busy with: the bars still running with how far they are, or else the
/// step after the last one finished.
fn working(last_step: Option<&str>, bars: &[ProgressBar]) -> String {
    if bars.is_empty() {
        return match last_step {
            Some(step) => format!("last finished: {step}"),
            None => "nothing finished yet".into(),
        };
    }
    bars.iter()
        .map(|b| match b.length() {
            Some(len) if len > 0 => {
                format!("{} {}%", b.message(), (b.position().min(len) * 100) / len)
            }
            _ => b.message(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resident memory of this process in MiB, where /proc tells it.
fn resident_mib() -> Option<u64> {
    status_mib("VmRSS:")
}

/// The most memory this process has held resident so far, in MiB, where /proc tells it.
pub fn peak_mib() -> Option<u64> {
    status_mib("VmHWM:")
}

fn status_mib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_heartbeat_names_the_bars_or_the_last_step() {
        assert_eq!(working(None, &[]), "nothing finished yet");
        assert_eq!(
            working(Some("read customers"), &[]),
            "last finished: read customers"
        );
        let a = ProgressBar::hidden();
        a.set_length(200);
        a.set_position(50);
        a.set_message("reading invoices.csv");
        let b = ProgressBar::hidden();
        b.set_message("deciding");
        assert_eq!(
            working(Some("split"), &[a, b]),
            "reading invoices.csv 25%, deciding"
        );
    }
}
