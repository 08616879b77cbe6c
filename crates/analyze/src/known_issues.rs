//! Known issues: crash signatures already understood, with a note and a
//! fix, kept in a data file (`data/known-issues`, built in, plus the
//! user's: a fleet's own list). `analyze` shows the entries a dump's
//! signature matches, as WinDbg's `!analyze` names a known bucket.

use std::sync::OnceLock;

use crate::signature::user_data_path;

const BUILTIN: &str = include_str!("../data/known-issues");
/// Bounds a pattern's `*`s (each tried at every position).
const MAX_WILDCARDS: usize = 16;

/// One entry of the known-issues file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownIssue {
    /// The signature pattern (`*` matches any run of characters).
    pub pattern: String,
    pub note: String,
    /// The fix: a commit, a release, a link; `None` when not known.
    pub fix: Option<String>,
}

/// Every entry of a known-issues file, or the line that is not one.
pub fn parse(text: &str) -> Result<Vec<KnownIssue>, String> {
    let mut issues = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.splitn(3, " | ").map(str::trim);
        let (Some(pattern), Some(note)) = (fields.next(), fields.next()) else {
            return Err(format!("line {}: expected `SIGNATURE PATTERN | NOTE | FIX`", n + 1));
        };
        if pattern.is_empty() || note.is_empty() {
            return Err(format!("line {}: the pattern and the note must not be empty", n + 1));
        }
        if pattern.matches('*').count() > MAX_WILDCARDS {
            return Err(format!("line {}: more than {MAX_WILDCARDS} `*` in the pattern", n + 1));
        }
        let fix = fields.next().filter(|f| !f.is_empty()).map(str::to_string);
        issues.push(KnownIssue { pattern: pattern.to_string(), note: note.to_string(), fix });
    }
    Ok(issues)
}

/// True when `pattern` (with `*` for any run of characters) matches all of `text`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else { return false };
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The entries in force: built in, plus the user's file. A user file that
/// cannot be read or parsed is reported once on stderr and left out.
pub fn known_issues() -> &'static [KnownIssue] {
    static ISSUES: OnceLock<Vec<KnownIssue>> = OnceLock::new();
    ISSUES.get_or_init(|| {
        let mut issues = parse(BUILTIN).unwrap_or_default();
        if let Some(path) = user_data_path("KRASH_KNOWN_ISSUES", "known-issues") {
            match std::fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|t| parse(&t)) {
                Ok(more) => issues.extend(more),
                Err(e) => eprintln!("krash: known issues {}: {e} (not used)", path.display()),
            }
        }
        issues
    })
}

/// The known issues a signature matches, in file order.
pub fn matching(signature: &str) -> Vec<KnownIssue> {
    known_issues().iter().filter(|k| matches(&k.pattern, signature)).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_entries_parse() {
        let issues = parse(BUILTIN).expect("data/known-issues parses");
        assert!(issues.len() >= 2, "{issues:?}");
        assert!(issues.iter().all(|k| k.fix.is_some()));
    }

    #[test]
    fn patterns() {
        assert!(matches("null_deref:f:g", "null_deref:f:g"));
        assert!(!matches("null_deref:f", "null_deref:f:g"));
        assert!(matches("null_deref:f:*", "null_deref:f:g:h"));
        assert!(matches("*:krash_*:*", "bug:krash_timer_fire:x"));
        assert!(matches("a*b*c", "abc") && matches("a*b*c", "aXbYc") && !matches("a*b*c", "aXcYb"));
        assert!(matches("*", "") && matches("a*", "a") && !matches("ab*ba", "aba"));
    }

    #[test]
    fn bad_lines_are_named() {
        assert!(parse("just a signature").unwrap_err().contains("line 1"));
        assert!(parse("# c\n\nsig |  | fix").unwrap_err().contains("line 3"));
        assert_eq!(parse("sig | note |").map(|v| v[0].fix.clone()), Ok(None));
    }
}
