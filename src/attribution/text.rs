//! The texts of findings (reasons and fixes), shared between the findings
//! that say the same thing.
//!
//! A large tenant repeats sentences by the thousand: every flow of one
//! creator has the same reason, every uncredited flow the same fix. Each
//! copy used to be its own allocation; now equal texts made on one thread
//! during one attribution are one `Arc<str>`.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt::{self, Write};
use std::sync::Arc;

/// A finding's reason or fix.
pub type Text = Arc<str>;

thread_local! {
    /// The texts made so far, and a buffer to format the next one into.
    static SEEN: RefCell<(HashSet<Text>, String)> = RefCell::default();
}

/// The text `args` formats to, shared with every equal text made on this
/// thread inside the current `scope`.
pub fn shared(args: fmt::Arguments<'_>) -> Text {
    SEEN.with_borrow_mut(|(seen, buf)| {
        buf.clear();
        let _ = buf.write_fmt(args);
        if let Some(t) = seen.get(buf.as_str()) {
            return t.clone();
        }
        let t: Text = Arc::from(buf.as_str());
        seen.insert(t.clone());
        t
    })
}

/// A text no other finding says (it names the resource): not worth a lookup.
pub fn unique(args: fmt::Arguments<'_>) -> Text {
    Arc::from(fmt::format(args))
}

/// Runs `f` with a fresh set of shared texts, and forgets them after: a
/// thread keeps no text alive beyond its attribution.
pub fn scope<R>(f: impl FnOnce() -> R) -> R {
    let clear = || {
        SEEN.with_borrow_mut(|(seen, buf)| {
            *seen = HashSet::new();
            *buf = String::new();
        });
    };
    clear();
    let out = f();
    clear();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_texts_are_one_allocation_within_a_scope() {
        let (a, b, c) = scope(|| {
            (
                shared(format_args!("owner {}", "x")),
                shared(format_args!("owner {}", "x")),
                shared(format_args!("owner {}", "y")),
            )
        });
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*c, "owner y");
        assert!(!Arc::ptr_eq(&a, &c));
        // The scope forgot them: only the findings hold them now.
        assert_eq!(Arc::strong_count(&a), 2);
    }
}
