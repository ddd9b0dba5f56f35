//! Power BI's documented tenant-wide admin caps, as the emulator enforces
//! them: a call over its cap gets 429 with the seconds until the window has
//! room. `--time-scale N` makes an hour last 3600/N seconds, so a benchmark
//! can run into the caps and out of them again.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// (path fragment after `/v1.0/myorg/admin/`, calls per hour).
const HOURLY: &[(&str, u32)] = &[
    ("workspaces/modified", 30),
    ("workspaces/getinfo", 500),
    ("workspaces/scanstatus", 10_000),
    ("workspaces/scanresult", 500),
    ("groups", 50),
    ("activityevents", 200),
];

#[derive(Debug)]
pub struct Caps {
    window: Duration,
    calls: Mutex<HashMap<&'static str, VecDeque<Instant>>>,
}

impl Caps {
    /// `time_scale` hours pass per real hour (1 is real time).
    pub fn new(time_scale: f64) -> Self {
        let scale = if time_scale.is_finite() && time_scale > 0.0 {
            time_scale
        } else {
            1.0
        };
        Self {
            window: Duration::from_secs_f64(3600.0 / scale),
            calls: Mutex::default(),
        }
    }

    /// Counts a call to `host` + `path`; `Err(wait)` when its cap is used up.
    pub fn take(&self, host: &str, path: &str, now: Instant) -> Result<(), Duration> {
        if host != "api.powerbi.com" {
            return Ok(());
        }
        let lower = path.to_ascii_lowercase();
        let Some(rest) = lower.split("/admin/").nth(1) else {
            return Ok(());
        };
        let Some((name, limit)) = HOURLY.iter().find(|(name, _)| {
            rest == *name
                || rest.starts_with(&format!("{name}/"))
                || rest.starts_with(&format!("{name}?"))
        }) else {
            return Ok(());
        };
        let mut calls = self.calls.lock().expect("cap map");
        let q = calls.entry(name).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() as u32 >= *limit {
            let oldest = *q.front().expect("full");
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        q.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_refuses_until_its_scaled_hour_has_passed() {
        // An hour in ten seconds.
        let caps = Caps::new(360.0);
        let t = Instant::now();
        let path = "/v1.0/myorg/admin/workspaces/modified";
        for _ in 0..30 {
            assert!(caps.take("api.powerbi.com", path, t).is_ok());
        }
        let wait = caps.take("api.powerbi.com", path, t).unwrap_err();
        assert_eq!(wait, Duration::from_secs(10));
        // Other calls and other hosts have their own caps, or none.
        assert!(
            caps.take("api.powerbi.com", "/v1.0/myorg/admin/workspaces/getInfo", t)
                .is_ok()
        );
        assert!(caps.take("api.flow.microsoft.com", path, t).is_ok());
        assert!(
            caps.take("api.powerbi.com", path, t + Duration::from_secs(10))
                .is_ok()
        );
    }

    #[test]
    fn scan_status_ids_count_against_one_cap() {
        let caps = Caps::new(1.0);
        let t = Instant::now();
        for i in 0..10_000 {
            let p = format!("/v1.0/myorg/admin/workspaces/scanStatus/{i}");
            assert!(caps.take("api.powerbi.com", &p, t).is_ok());
        }
        let err = caps
            .take(
                "api.powerbi.com",
                "/v1.0/myorg/admin/workspaces/scanStatus/x",
                t,
            )
            .unwrap_err();
        assert_eq!(err, Duration::from_secs(3600));
    }
}
