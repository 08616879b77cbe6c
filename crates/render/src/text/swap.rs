use std::fmt::Write;

use krash_commands::output::SwapOutput;

use super::dev::centered;

pub(crate) fn render(s: &SwapOutput) -> String {
    let mut out = String::from("SWAP_INFO_STRUCT    TYPE       SIZE       USED     PCT  PRI  FILENAME\n");
    let kb = s.page_size / 1024;
    for a in &s.areas {
        let size = a.pages.saturating_mul(kb);
        let used = a.used_pages.saturating_mul(kb);
        let pct = used.saturating_mul(100).checked_div(size).unwrap_or(0);
        let _ = writeln!(
            out,
            "{}  {} {} {} {} {:>4}  {}",
            centered(&format!("{:x}", a.swap_info), 16, false),
            if a.partition { "PARTITION" } else { "  FILE   " },
            centered(&format!("{size}k"), 10, true),
            centered(&format!("{used}k"), 10, true),
            centered(&format!("{pct:2}%"), 4, true),
            a.priority,
            a.filename
        );
    }
    out
}
