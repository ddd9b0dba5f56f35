//! Progress on a terminal, on stderr: a first line with the environments
//! read of all and an estimate of the time left, then one line per source
//! or environment being read. Every line is cleared when its read ends and
//! the rest when the audit ends (an error and Ctrl-C included): nothing is
//! left on the screen. Only drawn when stderr is a terminal (`run::progress_wanted`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use pal_client::sources;
use pal_core::report;

/// The counts behind the first line, and the estimate made from them; the
/// time is given, so it can be tested without waiting.
#[derive(Debug, Default)]
pub struct Model {
    /// Environments to read, once listed.
    total: Option<usize>,
    /// Environments read.
    done: usize,
    /// When the first environment began.
    first_began: Option<Instant>,
}

impl Model {
    pub fn planned(&mut self, total: usize) {
        self.total = Some(total);
    }

    pub fn began(&mut self, now: Instant) {
        self.first_began.get_or_insert(now);
    }

    pub fn finished(&mut self) {
        self.done += 1;
    }

    /// The time left at `now`: the time per environment so far (reads run
    /// side by side, so this is the rate they end at) times the
    /// environments left. `None` before one has ended.
    pub fn left(&self, now: Instant) -> Option<Duration> {
        let (total, began) = (self.total?, self.first_began?);
        if self.done == 0 {
            return None;
        }
        let per = now.saturating_duration_since(began) / u32::try_from(self.done).ok()?;
        let remaining = u32::try_from(total.saturating_sub(self.done)).ok()?;
        Some(per * remaining)
    }

    /// The first line: "environments 3 of 12 read, about 2m 10s left".
    pub fn line(&self, now: Instant) -> String {
        let Some(total) = self.total else {
            return "reading the tenant".into();
        };
        let mut line = format!("environments {} of {total} read", self.done);
        if self.done < total {
            match self.left(now) {
                // Under a second is no estimate to print as "0s".
                Some(left) if left < Duration::from_secs(1) => line.push_str(", almost done"),
                Some(left) => line.push_str(&format!(", about {} left", short(left))),
                None => line.push_str(", estimating the time left"),
            }
        }
        line
    }
}

/// `45s`, `2m 10s`, `1h 05m`.
pub fn short(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The bars on the screen while an audit runs, for [`clear`] on the way out
/// (a second Ctrl-C exits without unwinding).
static SHOWN: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Clears whatever progress is on the screen.
pub fn clear() {
    if let Some(multi) = SHOWN.lock().unwrap_or_else(PoisonError::into_inner).take() {
        let _ = multi.clear();
    }
}

/// `write` done with the bars taken off the screen and drawn again after,
/// so what it prints on stderr is not mixed with them.
pub fn suspend<T>(write: impl FnOnce() -> T) -> T {
    match &*SHOWN.lock().unwrap_or_else(PoisonError::into_inner) {
        Some(multi) => multi.suspend(write),
        None => write(),
    }
}

/// Prints `line` on stderr above the bars.
pub fn eprintln_above(line: &str) {
    suspend(|| eprintln!("{line}"));
}

/// The progress of one audit on stderr; cleared when dropped.
pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    model: Arc<Mutex<Model>>,
    /// The running reads' lines: sources by name, environments by index.
    running: Mutex<HashMap<Key, ProgressBar>>,
}

#[derive(Debug, PartialEq, Eq, Hash)]
enum Key {
    Source(String),
    Environment(usize),
}

impl Bars {
    pub fn new() -> Self {
        let multi = MultiProgress::new();
        let model = Arc::new(Mutex::new(Model::default()));
        let line = {
            let model = model.clone();
            move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let model = model.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = w.write_str(&model.line(Instant::now()));
            }
        };
        let style = ProgressStyle::with_template("{spinner} {line} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("line", line);
        let overall = multi.add(ProgressBar::new_spinner().with_style(style));
        overall.enable_steady_tick(Duration::from_millis(120));
        *SHOWN.lock().unwrap_or_else(PoisonError::into_inner) = Some(multi.clone());
        Self {
            multi,
            overall,
            model,
            running: Mutex::new(HashMap::new()),
        }
    }

    fn model(&self) -> std::sync::MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn start(&self, key: Key, what: &str) {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {elapsed:>4} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(report::terminal_safe(what).into_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, bar);
    }

    /// Its line goes; what it read is logged (`-v`).
    fn end(&self, key: &Key, what: &str, summary: &str) {
        if let Some(bar) = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
        {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        tracing::info!("{}: {}", report::terminal_safe(what), summary);
        self.overall.tick();
    }
}

impl sources::Progress for Bars {
    fn begin(&self, what: &str) {
        self.start(Key::Source(what.to_string()), what);
    }
    fn finish(&self, what: &str, summary: &str) {
        self.end(&Key::Source(what.to_string()), what, summary);
    }
    fn environments(&self, total: usize) {
        self.model().planned(total);
        self.overall.tick();
    }
    fn begin_environment(&self, index: usize, name: &str) {
        self.model().began(Instant::now());
        self.start(Key::Environment(index), name);
        self.overall.tick();
    }
    fn finish_environment(&self, index: usize, name: &str, summary: &str) {
        self.model().finished();
        self.end(&Key::Environment(index), name, summary);
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        for (_, bar) in self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
        {
            bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
        clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_the_rate_so_far_times_what_is_left() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut m = Model::default();
        assert_eq!(m.line(at(0)), "reading the tenant");
        m.planned(12);
        assert_eq!(
            m.line(at(0)),
            "environments 0 of 12 read, estimating the time left"
        );
        m.began(at(2));
        // Four read side by side: the second to start does not move the start.
        m.began(at(3));
        assert_eq!(m.left(at(10)), None);
        m.finished();
        m.finished();
        m.finished();
        // 3 in 30 s: 10 s each, 9 left.
        assert_eq!(m.left(at(32)), Some(Duration::from_secs(90)));
        assert_eq!(
            m.line(at(32)),
            "environments 3 of 12 read, about 1m 30s left"
        );
        for _ in 0..9 {
            m.finished();
        }
        assert_eq!(m.left(at(60)), Some(Duration::ZERO));
        assert_eq!(m.line(at(60)), "environments 12 of 12 read");
    }

    /// 99 of 100 read in 50 s, half a second each: under a second left is
    /// "almost done", not "about 0s left".
    #[test]
    fn under_a_second_left_is_almost_done() {
        let t0 = Instant::now();
        let mut m = Model::default();
        m.planned(100);
        m.began(t0);
        for _ in 0..99 {
            m.finished();
        }
        let now = t0 + Duration::from_secs(50);
        assert!(m.left(now).unwrap() < Duration::from_secs(1));
        assert_eq!(m.line(now), "environments 99 of 100 read, almost done");
    }

    #[test]
    fn times_are_short() {
        assert_eq!(short(Duration::from_secs(45)), "45s");
        assert_eq!(short(Duration::from_secs(130)), "2m 10s");
        assert_eq!(short(Duration::from_secs(3900)), "1h 05m");
    }
}
