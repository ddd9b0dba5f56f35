//! The texts of findings (reasons and fixes), shared between the findings
//! that say the same thing.
//!
//! A large tenant repeats sentences by the thousand: every flow of one
//! creator has the same reason, every uncredited flow the same fix. Each
//! copy used to be its own allocation; now equal texts made on one thread
//! during one attribution are one `Arc<str>`.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::cell::RefCell;

use crate::inventory::PrincipalId;
use std::fmt::{self, Write};
use std::sync::Arc;

/// A finding's reason or fix.
pub type Text = Arc<str>;

/// `about`'s sentences: by call site and variant, then by principal (so a
/// lookup borrows the id instead of cloning it into a key).
type About = HashMap<(&'static str, u16), HashMap<PrincipalId, Text>>;

thread_local! {
    /// The texts made so far, and a buffer to format the next one into.
    static SEEN: RefCell<(HashSet<Text>, String)> = RefCell::default();
    /// Sentences about one principal, by where they are said and how.
    static ABOUT: RefCell<About> = RefCell::default();
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

/// What `site` says about `who` (`variant` tells its other inputs apart),
/// made by `make` the first time on this thread inside the current scope:
/// every finding of a principal with thousands of resources repeats the
/// sentence, and formatting it each time was most of attribution's time.
/// The caller keeps the key whole: the same key must always mean the same
/// sentence.
pub fn about(
    site: &'static str,
    who: &PrincipalId,
    variant: u16,
    make: impl FnOnce() -> Text,
) -> Text {
    let known = ABOUT.with_borrow(|m| m.get(&(site, variant))?.get(who).cloned());
    known.unwrap_or_else(|| {
        let t = make();
        ABOUT.with_borrow_mut(|m| {
            m.entry((site, variant))
                .or_default()
                .insert(who.clone(), t.clone())
        });
        t
    })
}

/// A finding's fix. Most fixes are one sentence shared by many findings; a
/// canvas app's names the app (its id, twice), so its sentence is kept once
/// with a mark where the id goes, and the id is put in when the fix is shown:
/// a large tenant's canvas fixes are then no longer a text each.
#[derive(Clone, Debug)]
pub struct Fix {
    text: Text,
    app: Option<crate::inventory::ResourceId>,
}

impl Fix {
    /// A fix that names no resource.
    pub fn new(text: Text) -> Self {
        Fix { text, app: None }
    }

    /// A fix for app `app`: `args` formats the sentence with `Fix::APP`
    /// where the app id goes; every other value in it must go through
    /// `Fix::value`.
    pub fn for_app(app: &crate::inventory::ResourceId, args: fmt::Arguments<'_>) -> Self {
        let text = shared(args);
        Fix {
            text,
            app: Some(app.clone()),
        }
    }

    /// A value written into a fix sentence, safe from the app mark.
    pub fn value(v: &str) -> std::borrow::Cow<'_, str> {
        if v.contains(Self::APP) {
            v.replace(Self::APP, "\u{fffd}").into()
        } else {
            v.into()
        }
    }

    /// Where a fix's app id goes: never in a fix's own words, and taken out
    /// of the values written into it (`Fix::value`).
    pub const APP: char = '\u{0}';
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(app) = &self.app else {
            return f.write_str(&self.text);
        };
        for (i, part) in self.text.split(Self::APP).enumerate() {
            if i > 0 {
                f.write_str(app.as_str())?;
            }
            f.write_str(part)?;
        }
        Ok(())
    }
}

/// Two fixes are equal when they read the same.
impl PartialEq for Fix {
    fn eq(&self, other: &Self) -> bool {
        (self.text == other.text && self.app == other.app) || self.to_string() == other.to_string()
    }
}

impl From<String> for Fix {
    fn from(s: String) -> Self {
        Fix::new(s.into())
    }
}

impl serde::Serialize for Fix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Fix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Fix::from)
    }
}

/// Runs `f` with a fresh set of shared texts, and forgets them after: a
/// thread keeps no text alive beyond its attribution.
pub fn scope<R>(f: impl FnOnce() -> R) -> R {
    forget();
    let out = f();
    forget();
    out
}

/// Forgets the texts this thread made (they live on in the findings that
/// hold them).
pub fn forget() {
    SEEN.with_borrow_mut(|(seen, buf)| {
        *seen = HashSet::default();
        *buf = String::new();
    });
    ABOUT.with_borrow_mut(|m| *m = HashMap::default());
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

    #[test]
    fn a_sentence_about_a_principal_is_made_once_per_key_and_scope() {
        let who = PrincipalId::new("p1");
        let other = PrincipalId::new("p2");
        let made = std::cell::Cell::new(0);
        let make = |s: &str| {
            made.set(made.get() + 1);
            Text::from(s)
        };
        let (a, b, c, d) = scope(|| {
            (
                about("credit", &who, 1, || make("one")),
                about("credit", &who, 1, || make("never made")),
                about("credit", &who, 2, || make("two")),
                about("credit", &other, 1, || make("three")),
            )
        });
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!((&*c, &*d, made.get()), ("two", "three", 3));
        // A new scope forgot them.
        let e = scope(|| about("credit", &who, 1, || make("four")));
        assert_eq!(&*e, "four");
    }

    #[test]
    fn an_app_fix_is_one_shared_sentence_with_each_app_id_put_in_when_shown() {
        use crate::inventory::ResourceId;
        let (a, b) = scope(|| {
            let fix = |app: &str| {
                let who = Fix::value("Svc\u{0}Account");
                Fix::for_app(
                    &ResourceId::new(app),
                    format_args!(
                        "Make {who} the owner of {m} (`-AppName {m}`).",
                        m = Fix::APP
                    ),
                )
            };
            (fix("app-1"), fix("app-2"))
        });
        assert!(Arc::ptr_eq(&a.text, &b.text));
        // A mark inside a value is not a place for the id.
        assert_eq!(
            a.to_string(),
            "Make Svc\u{fffd}Account the owner of app-1 (`-AppName app-1`)."
        );
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            "Make Svc\u{fffd}Account the owner of app-2 (`-AppName app-2`)."
        );
        // Read back from a report, it is the same fix.
        let read: Fix = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(read, a);
        assert_ne!(read, b);
        assert_eq!(Fix::new("plain".into()).to_string(), "plain");
    }
}
