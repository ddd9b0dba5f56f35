//! When to retry and how long to wait: max(`Retry-After`, exponential backoff
//! with jitter), within a cap on attempts and on total time per request.
//! Every sum of durations saturates: a server's `Retry-After` is never
//! trusted to fit in one.

use std::time::{Duration, SystemTime};

/// Retry settings (config file `[http]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The first backoff; doubled on each retry.
    pub base_delay: Duration,
    /// No single backoff is longer than this.
    pub max_delay: Duration,
    /// A request is given up when its next wait would end past this.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            max_elapsed: Duration::from_secs(300),
        }
    }
}

/// The longest `Retry-After` taken at its word: a server asking for more
/// (up to `u64::MAX` seconds) is asked for a day, which is past any
/// `max_request_s`, so the request is given up as a gap.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// Statuses the services use for "try again" (throttling, timeouts, outages).
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (1 for the first retry):
    /// `base * 2^(retry-1)`, capped, with "equal jitter" (a random point in
    /// the upper half) so many clients do not retry in step.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// The wait before retry number `retry`: the server's word or our
    /// backoff, whichever is longer.
    pub fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let b = self.backoff(retry);
        retry_after.map_or(b, |ra| ra.min(MAX_RETRY_AFTER).max(b))
    }

    /// Whether waiting `wait` after `elapsed` would pass `max_elapsed`
    /// (saturating: a huge wait gives up, never overflows).
    pub fn would_pass(&self, elapsed: Duration, wait: Duration) -> bool {
        elapsed.saturating_add(wait) > self.max_elapsed
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (RFC 9110). A date in
/// the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(
            secs.min(MAX_RETRY_AFTER.as_secs_f64()),
        ));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn huge_retry_after_is_capped_at_a_day() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for v in [
            "18446744073709551615",
            "99999999999999999999999",
            "1e300",
            "86401",
        ] {
            assert_eq!(parse_retry_after(v, now), Some(MAX_RETRY_AFTER), "{v}");
        }
        let far = httpdate::fmt_http_date(now + Duration::from_secs(10 * 86_400));
        assert_eq!(parse_retry_after(&far, now), Some(MAX_RETRY_AFTER));
        let p = RetryPolicy::default();
        assert_eq!(p.wait(1, Some(Duration::MAX)), MAX_RETRY_AFTER);
    }

    #[test]
    fn a_huge_wait_after_a_slow_answer_gives_up_without_overflow() {
        let p = RetryPolicy::default();
        // `elapsed + wait` overflowed here (a panic, exit 101).
        assert!(p.would_pass(Duration::from_millis(1500), Duration::MAX));
        assert!(p.would_pass(Duration::from_secs(2), MAX_RETRY_AFTER));
        assert!(!p.would_pass(Duration::from_secs(2), Duration::from_secs(3)));
    }

    #[test]
    fn backoff_doubles_within_bounds() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_elapsed: Duration::from_secs(10),
        };
        for _ in 0..200 {
            let b1 = p.backoff(1);
            assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100));
            let b3 = p.backoff(3);
            assert!(b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400));
            let b20 = p.backoff(20);
            assert!(b20 >= Duration::from_millis(500) && b20 <= Duration::from_millis(1000));
            let b_huge = p.backoff(u32::MAX);
            assert!(b_huge <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn wait_is_the_longer_of_retry_after_and_backoff() {
        let p = RetryPolicy::default();
        assert!(p.wait(1, Some(Duration::from_secs(9))) == Duration::from_secs(9));
        let w = p.wait(1, Some(Duration::ZERO));
        assert!(w >= Duration::from_millis(250) && w <= Duration::from_millis(500));
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s));
        }
        for s in [200, 400, 401, 403, 404, 409, 501] {
            assert!(!is_retryable_status(s));
        }
    }
}
