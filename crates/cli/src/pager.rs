//! crash's `set scroll`: command output longer than the terminal goes
//! through a pager (`$KRASH_PAGER`, else `$PAGER`, else `less -XFRK`:
//! no screen clearing, quit at once when the text fits, colours kept,
//! quit on Ctrl-C back to the prompt).

use std::io::IsTerminal;

/// What krash pages with when the user has not said: `less` leaving the
/// screen as it is (-X), quitting when the text fits (-F), passing colour
/// codes (-R) and quitting on Ctrl-C (-K).
const DEFAULT_PAGER: &str = "less -XFRK";

/// The pager's command line, or None when there is none to run.
pub(crate) fn pager_command() -> Option<String> {
    for var in ["KRASH_PAGER", "PAGER"] {
        if let Some(value) = std::env::var_os(var) {
            let value = value.to_string_lossy().trim().to_string();
            // An empty setting means "no pager", as for git and man.
            return (!value.is_empty()).then_some(value);
        }
    }
    on_path("less").then(|| DEFAULT_PAGER.to_string())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// The terminal's (rows, columns) when standard output is one.
pub(crate) fn terminal_size() -> Option<(usize, usize)> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let mut size = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we pass; the
    // descriptor is our standard output, checked to be a terminal above.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_row > 0 && size.ws_col > 0).then_some((usize::from(size.ws_row), usize::from(size.ws_col)))
}

/// True when `text` needs more rows than a screen of `rows` x `columns`
/// holds with the prompt line kept free (long lines wrap).
pub(crate) fn exceeds_screen(text: &str, rows: usize, columns: usize) -> bool {
    let columns = columns.max(1);
    let mut needed = 0usize;
    for line in text.lines() {
        let width = line.chars().count();
        needed = needed.saturating_add(width.div_ceil(columns).max(1));
        if needed >= rows {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screens_count_wrapped_rows() {
        assert!(!exceeds_screen("", 24, 80));
        assert!(!exceeds_screen(&"x\n".repeat(23), 24, 80));
        assert!(exceeds_screen(&"x\n".repeat(24), 24, 80));
        // Ten lines of 200 characters take 30 rows on an 80-column screen.
        assert!(exceeds_screen(&format!("{}\n", "y".repeat(200)).repeat(10), 24, 80));
        assert!(!exceeds_screen(&format!("{}\n", "y".repeat(200)).repeat(10), 40, 80));
    }
}
