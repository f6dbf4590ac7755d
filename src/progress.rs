//! Progress on stderr: a line per finished stage with the time since the start, and a byte
//! bar while a large file is read (drawn only on a terminal).

use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    start: Instant,
    quiet: bool,
    /// Bars of files read at the same time, drawn one under the other.
    bars: MultiProgress,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Progress {
            start: Instant::now(),
            quiet,
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        }
    }

    /// Prints one line about a finished step, with the time since the start and the
    /// memory in use (Linux).
    pub fn step(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            let mem = resident_mib()
                .map(|m| format!(" {m:>6} MiB"))
                .unwrap_or_default();
            let line = format!(
                "[{:>7.1}s{mem}] {}",
                self.start.elapsed().as_secs_f64(),
                msg.as_ref()
            );
            self.bars.suspend(|| eprintln!("{line}"));
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
        bar
    }

    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
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
