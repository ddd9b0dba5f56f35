//! Per-host concurrency that adapts: it halves when a host answers 429 (the
//! service's own word that it is over its limit) and grows back by one after
//! a full round of successes, never above the configured limit.

use std::sync::Mutex;

use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Debug)]
struct State {
    /// Requests allowed in flight now.
    limit: usize,
    /// Permits to take out of circulation as they come back (after a cut).
    debt: usize,
    /// Successes since the last change.
    successes: usize,
}

#[derive(Debug)]
pub struct HostLimit {
    sem: Semaphore,
    max: usize,
    state: Mutex<State>,
}

/// A slot for one request; returns to the host when dropped (or is retired,
/// while the host is paying back a cut).
pub struct Slot<'a> {
    host: &'a HostLimit,
    permit: Option<SemaphorePermit<'a>>,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut st = self.host.state.lock().expect("host limit");
        if let Some(p) = self.permit.take()
            && st.debt > 0
        {
            st.debt -= 1;
            p.forget();
        }
    }
}

impl HostLimit {
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            sem: Semaphore::new(max),
            max,
            state: Mutex::new(State {
                limit: max,
                debt: 0,
                successes: 0,
            }),
        }
    }

    pub async fn acquire(&self) -> Slot<'_> {
        let permit = self.sem.acquire().await.expect("never closed");
        Slot {
            host: self,
            permit: Some(permit),
        }
    }

    /// The host answered 429: halve what is allowed in flight.
    pub fn throttled(&self) {
        let mut st = self.state.lock().expect("host limit");
        let new = (st.limit / 2).max(1);
        st.debt += st.limit - new;
        st.limit = new;
        st.successes = 0;
        tracing::debug!(limit = new, "throttled: fewer requests in flight");
    }

    /// A request went through: after a full round of them, allow one more.
    pub fn succeeded(&self) {
        let mut st = self.state.lock().expect("host limit");
        st.successes += 1;
        if st.successes >= st.limit && st.limit < self.max {
            st.successes = 0;
            st.limit += 1;
            if st.debt > 0 {
                st.debt -= 1;
            } else {
                self.sem.add_permits(1);
            }
        }
    }

    /// Requests allowed in flight now.
    pub fn current(&self) -> usize {
        self.state.lock().expect("host limit").limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn halves_on_throttling_and_recovers() {
        let h = HostLimit::new(8);
        h.throttled();
        assert_eq!(h.current(), 4);
        h.throttled();
        assert_eq!(h.current(), 2);
        // Slots released while in debt are retired: two in flight at most.
        {
            let _slots: Vec<_> = futures::future::join_all((0..6).map(|_| h.acquire())).await;
        }
        assert_eq!(h.sem.available_permits(), 2);
        for _ in 0..2 {
            h.succeeded();
        }
        assert_eq!(h.current(), 3);
        assert_eq!(h.sem.available_permits(), 3);
        for _ in 0..100 {
            h.succeeded();
        }
        assert_eq!(h.current(), 8, "never above the configured limit");
        assert_eq!(h.sem.available_permits(), 8);
        let one = HostLimit::new(1);
        one.throttled();
        assert_eq!(one.current(), 1, "never below one");
    }
}
