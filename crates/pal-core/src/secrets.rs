//! Known secrets (tokens, keys, client secrets) taken out of whatever a
//! server sends back: a service that echoes a bearer token or a
//! subscription key in a body or an error message must not get it into a
//! report, a recording or a log line.
//!
//! Its own module, below both `auth` (whose `Secret` registers here) and
//! `http` (which scrubs here), so neither reaches back into the other.
//!
//! Every `auth::Secret` registers its value when made; every response body
//! passes through [`bytes`] (or a [`Stream`] while it arrives) before it is
//! decoded or recorded, and log lines through [`text`].

use std::borrow::Cow;
use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a secret is replaced with.
pub const MARK: &str = "[secret removed]";

/// Shorter values are not treated as secrets: replacing every `t` of a
/// test's one-letter token would mangle every body.
const MIN_LEN: usize = 8;

static KNOWN: RwLock<Vec<Box<[u8]>>> = RwLock::new(Vec::new());
/// The longest secret known, 0 while none is: the fast path of every body.
static LONGEST: AtomicUsize = AtomicUsize::new(0);

/// Remembers `value` as a secret for the rest of the process.
pub fn register(value: &str) {
    let v = value.trim().as_bytes();
    if v.len() < MIN_LEN {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    if known.iter().any(|k| &**k == v) {
        return;
    }
    known.push(v.into());
    LONGEST.fetch_max(v.len(), Ordering::Relaxed);
}

/// `body` with every known secret replaced by [`MARK`].
pub fn bytes(body: &[u8]) -> Cow<'_, [u8]> {
    if LONGEST.load(Ordering::Relaxed) == 0 {
        return Cow::Borrowed(body);
    }
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    let mut out: Option<Vec<u8>> = None;
    for secret in known.iter() {
        let current: &[u8] = out.as_deref().unwrap_or(body);
        if let Some(replaced) = replace(current, secret) {
            out = Some(replaced);
        }
    }
    out.map_or(Cow::Borrowed(body), Cow::Owned)
}

/// `s` with every known secret replaced by [`MARK`].
pub fn text(s: &str) -> Cow<'_, str> {
    match bytes(s.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(s),
        // A secret is whole UTF-8 text and so is the mark: what is left is too.
        Cow::Owned(v) => Cow::Owned(String::from_utf8_lossy(&v).into_owned()),
    }
}

/// `hay` with each `needle` replaced, or `None` when there is none.
fn replace(hay: &[u8], needle: &[u8]) -> Option<Vec<u8>> {
    let finder = memchr::memmem::Finder::new(needle);
    let mut at = finder.find_iter(hay).peekable();
    at.peek()?;
    let mut out = Vec::with_capacity(hay.len());
    let mut from = 0;
    for i in at {
        if i < from {
            continue;
        }
        out.extend_from_slice(&hay[from..i]);
        out.extend_from_slice(MARK.as_bytes());
        from = i + needle.len();
    }
    out.extend_from_slice(&hay[from..]);
    Some(out)
}

/// Scrubs a body that arrives in chunks: holds back the last bytes of each
/// chunk that could be the start of a secret the next chunk ends.
#[derive(Default)]
pub struct Stream {
    held: Vec<u8>,
}

impl Stream {
    /// The scrubbed bytes that can be passed on after `chunk`.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let longest = LONGEST.load(Ordering::Relaxed);
        if longest == 0 && self.held.is_empty() {
            return chunk.to_vec();
        }
        self.held.extend_from_slice(chunk);
        let mut all = bytes(&self.held).into_owned();
        let keep = longest.saturating_sub(1).min(all.len());
        self.held = all.split_off(all.len() - keep);
        all
    }

    /// What is still held, at the end of the body.
    pub fn finish(self) -> Vec<u8> {
        bytes(&self.held).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_are_removed_wherever_they_are() {
        register("scrub-test-secret-0123456789");
        register("short");
        let body = br#"{"error":{"message":"bad token scrub-test-secret-0123456789!"},"short":1}"#;
        let out = bytes(body);
        let out = std::str::from_utf8(&out).unwrap();
        assert!(!out.contains("scrub-test-secret"), "{out}");
        assert!(out.contains(MARK), "{out}");
        // Too short to be a secret: left alone.
        assert!(out.contains("short"), "{out}");
        assert_eq!(
            text("a scrub-test-secret-0123456789scrub-test-secret-0123456789 b"),
            format!("a {MARK}{MARK} b")
        );
        assert!(matches!(text("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_split_across_chunks_is_removed() {
        register("stream-secret-abcdefghijklmnop");
        let body = b"xx stream-secret-abcdefghijklmnop yy stream-secret-abcdefghijklmnop";
        for cut in 1..body.len() {
            let mut s = Stream::default();
            let mut out = s.push(&body[..cut]);
            out.extend(s.push(&body[cut..]));
            out.extend(s.finish());
            let out = String::from_utf8(out).unwrap();
            assert_eq!(out, format!("xx {MARK} yy {MARK}"), "cut at {cut}");
        }
    }
}
