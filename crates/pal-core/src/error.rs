//! The error every reader of a file people write returns: it names the
//! file and the line or JSON path, so the message alone says what to fix.

/// A bad input file: names the file and the line or JSON path.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {message}")]
pub struct InputError {
    /// Where: `links.csv:7`, `att.json: $.partner_id`, `pal-audit.toml:3:1`, ...
    pub location: String,
    /// What is wrong there.
    pub message: String,
}

impl InputError {
    /// An error at `location`.
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }

    /// A JSON file `name` that did not decode: at its JSON path, or at its
    /// line when the text itself is not JSON.
    pub fn json(name: &str, e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            Self::new(format!("{name}:{}", inner.line()), inner.to_string())
        } else {
            Self::new(format!("{name}: $.{path}"), inner.to_string())
        }
    }
}
