use std::fmt::Write;

use krash_commands::output::{Found, SearchHit, SearchOutput};

use super::task::header;

/// crash's layout: `ADDR: VALUE` a line; with -t each task's matches under
/// its header, groups apart by a blank line; with -x each match's
/// surroundings as a block followed by a blank line.
pub(crate) fn render(s: &SearchOutput) -> String {
    let mut out = String::new();
    if let Some(start) = s.rounded_start {
        let _ = writeln!(out, "search: rounding down start address to: {start:x}");
    }
    for (i, g) in s.groups.iter().enumerate() {
        if let Some(t) = &g.task {
            if i > 0 {
                out.push('\n');
            }
            let _ = writeln!(out, "{}", header(t));
        }
        for h in &g.hits {
            render_hit(&mut out, h, s.width);
        }
    }
    if s.truncated {
        let _ = writeln!(out, "search: stopped after {} matches", s.groups.iter().map(|g| g.hits.len()).sum::<usize>());
    }
    for (start, end) in &s.incomplete {
        let _ = writeln!(
            out,
            "search: {start:x}-{end:x} searched only in part: its page tables could not be walked to the end"
        );
    }
    out
}

fn render_hit(out: &mut String, h: &SearchHit, width: usize) {
    let label = match &h.found {
        Found::Value { label, .. } => label.as_deref(),
        Found::String { .. } => None,
    };
    if h.context.is_empty() {
        let _ = match (&h.found, label) {
            (Found::String { window }, _) => writeln!(out, "{:x}: {window}", h.addr),
            (Found::Value { value, .. }, Some(label)) => writeln!(out, "{:x}: {value:x} ({label})", h.addr),
            (Found::Value { value, .. }, None) => writeln!(out, "{:x}: {value:x} ", h.addr),
        };
        return;
    }
    for c in &h.context {
        if c.is_match {
            let label = label.map(|l| format!("({l})")).unwrap_or_default();
            let _ = writeln!(out, "{:x}:  {:0width$x} {label}", c.addr, c.value);
        } else {
            let _ = writeln!(out, "{:x}:  {:0width$x}                    {}", c.addr, c.value, c.ascii);
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_commands::output::{ContextLine, SearchGroup};

    #[test]
    fn hits_values_labels_strings_and_context() {
        let hit = |found| SearchHit { addr: 0x1000, found, context: Vec::new() };
        let out = SearchOutput {
            groups: vec![SearchGroup {
                task: None,
                hits: vec![
                    hit(Found::Value { value: 0xffff, label: None }),
                    hit(Found::Value { value: 0xffff, label: Some("init_task".into()) }),
                    hit(Found::String { window: "abc".into() }),
                ],
            }],
            width: 16,
            rounded_start: Some(0xff0),
            truncated: false,
            incomplete: Vec::new(),
        };
        assert_eq!(
            render(&out),
            "search: rounding down start address to: ff0\n1000: ffff \n1000: ffff (init_task)\n1000: abc\n"
        );
        // What could not be searched is named, after the hits.
        let partly = SearchOutput { incomplete: vec![(0xffffc90000000000, 0xffffe8ffffffffff)], ..out };
        assert!(render(&partly).ends_with(
            "search: ffffc90000000000-ffffe8ffffffffff searched only in part: its page tables could not be walked to the end\n"
        ));
        let ctx = |addr, is_match| ContextLine { addr, value: 7, ascii: "........".into(), is_match };
        let with_context = SearchHit {
            addr: 0x1008,
            found: Found::Value { value: 7, label: Some("x".into()) },
            context: vec![ctx(0x1000, false), ctx(0x1008, true)],
        };
        let mut s = String::new();
        render_hit(&mut s, &with_context, 16);
        assert_eq!(s, "1000:  0000000000000007                    ........\n1008:  0000000000000007 (x)\n\n");
    }
}
