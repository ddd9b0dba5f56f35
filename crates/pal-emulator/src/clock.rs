//! The emulator's latency clock: wakes each request at its deadline to within
//! a fraction of a millisecond.
//!
//! Tokio's timer wheel ticks in whole milliseconds and rounds every sleep up:
//! a 20 ms sleep took 21.2 ms on average here, so `--latency 20` served 21.2
//! and the benchmark charged the emulator's own error to the client. One
//! thread keeps the deadlines in a heap and sleeps on a channel's timed wait,
//! which the kernel ends within tens of microseconds.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Instant;

use tokio::sync::oneshot;

struct Wake {
    at: Instant,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Wake {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}
impl Eq for Wake {}
impl PartialOrd for Wake {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Wake {
    // Reversed: the heap's top is the earliest deadline.
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.cmp(&self.at)
    }
}

pub struct Clock {
    tx: mpsc::Sender<Wake>,
}

impl Clock {
    /// Starts the clock's thread; it ends when the clock is dropped and every
    /// waiting request has been woken.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel::<Wake>();
        std::thread::Builder::new()
            .name("emulator-clock".into())
            .spawn(move || run(&rx))
            .expect("the emulator's clock thread starts");
        Self { tx }
    }

    /// Returns at `at`, not before.
    pub async fn sleep_until(&self, at: Instant) {
        if at <= Instant::now() {
            return;
        }
        let (tx, rx) = oneshot::channel();
        let sent = self.tx.send(Wake { at, tx });
        if sent.is_ok() {
            let _ = rx.await;
        } else {
            tokio::time::sleep_until(at.into()).await;
        }
    }
}

fn run(rx: &mpsc::Receiver<Wake>) {
    let mut due: BinaryHeap<Wake> = BinaryHeap::new();
    let mut open = true;
    loop {
        let next = due.peek().map(|w| w.at);
        let got = match (next, open) {
            (None, false) => return,
            (None, true) => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            (Some(at), true) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
            (Some(at), false) => {
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                Err(RecvTimeoutError::Timeout)
            }
        };
        match got {
            Ok(w) => due.push(w),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        let now = Instant::now();
        while due.peek().is_some_and(|w| w.at <= now) {
            if let Some(w) = due.pop() {
                let _ = w.tx.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn never_wakes_before_the_deadline() {
        let clock = Clock::new();
        let start = Instant::now();
        let wakes = (0..50u64).map(|i| {
            let at = start + Duration::from_millis(5 + i % 7);
            let clock = &clock;
            async move {
                clock.sleep_until(at).await;
                Instant::now() >= at
            }
        });
        let all = futures::future::join_all(wakes).await;
        assert!(all.into_iter().all(|on_time| on_time));
    }
}
