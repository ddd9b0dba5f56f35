//! Client-side budgets for the services' published rate caps (Power BI's
//! hourly and per-minute admin limits): a call the cap would refuse is never
//! sent. Hourly budgets end the source with a gap that says when to retry;
//! per-minute budgets wait for room.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// One cap: at most `limit` calls in any `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap {
    pub limit: u32,
    pub window: Duration,
    /// Wait for room (short windows) rather than give up (hourly windows).
    pub wait: bool,
}

impl Cap {
    pub const fn per_hour(limit: u32) -> Self {
        Self {
            limit,
            window: Duration::from_secs(3600),
            wait: false,
        }
    }
    pub const fn per_minute(limit: u32) -> Self {
        Self {
            limit,
            window: Duration::from_secs(60),
            wait: true,
        }
    }
}

/// A budget that ran out: no more calls of this kind until `retry_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exhausted {
    pub budget: &'static str,
    pub limit: u32,
    pub retry_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct Budgets {
    caps: HashMap<&'static str, Cap>,
    /// Send times of recent calls, per budget.
    sent: Mutex<HashMap<&'static str, VecDeque<Instant>>>,
}

impl Budgets {
    pub fn new(caps: impl IntoIterator<Item = (&'static str, Cap)>) -> Self {
        Self {
            caps: caps.into_iter().collect(),
            sent: Mutex::default(),
        }
    }

    /// Takes one call from `budget`, waiting for room if its cap says so.
    /// An unknown budget name is unlimited.
    pub async fn take(&self, budget: &'static str) -> Result<(), Exhausted> {
        let Some(cap) = self.caps.get(budget).copied() else {
            return Ok(());
        };
        loop {
            let wait = {
                let mut sent = self.sent.lock().expect("budget map");
                let q = sent.entry(budget).or_default();
                let now = Instant::now();
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= cap.window)
                {
                    q.pop_front();
                }
                if (q.len() as u32) < cap.limit {
                    q.push_back(now);
                    return Ok(());
                }
                let oldest = *q.front().expect("a full window has a first call");
                cap.window.saturating_sub(now.duration_since(oldest))
            };
            if !cap.wait {
                let retry_at = Utc::now()
                    + chrono::Duration::from_std(wait)
                        .unwrap_or_else(|_| chrono::Duration::hours(1));
                return Err(Exhausted {
                    budget,
                    limit: cap.limit,
                    retry_at,
                });
            }
            tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hourly_budgets_refuse_with_a_retry_time() {
        let b = Budgets::new([("scan", Cap::per_hour(2))]);
        assert!(b.take("scan").await.is_ok());
        assert!(b.take("scan").await.is_ok());
        let e = b.take("scan").await.unwrap_err();
        assert_eq!(e.limit, 2);
        assert!(e.retry_at > Utc::now() + chrono::Duration::minutes(59));
        assert!(
            b.take("other").await.is_ok(),
            "unknown budgets are unlimited"
        );
    }

    #[tokio::test]
    async fn short_windows_wait_for_room() {
        let b = Budgets::new([(
            "groups",
            Cap {
                limit: 1,
                window: Duration::from_millis(50),
                wait: true,
            },
        )]);
        let start = Instant::now();
        b.take("groups").await.unwrap();
        b.take("groups").await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(40));
    }
}
