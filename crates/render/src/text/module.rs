use std::fmt::Write;

use krash_commands::output::{ModuleOutput, ModuleTable, TaintRow};

/// crash's `mod` table: columns sized to the longest name and size over
/// every module, MODULE and BASE titles centred over 16 hex digits.
pub(crate) fn render(output: &ModuleOutput) -> String {
    match output {
        ModuleOutput::Table(table) => render_table(table),
        ModuleOutput::Taints { rows } => render_taints(rows),
        ModuleOutput::Unloaded { .. } => String::new(),
    }
}

const ADDR_WIDTH: usize = 16;

fn render_table(t: &ModuleTable) -> String {
    let mut s = String::new();
    let base_title = if t.text_base { "TEXT_BASE" } else { "BASE" };
    let _ = writeln!(
        s,
        "{}  {:<nw$}  {}  {:>sw$}  OBJECT FILE",
        centered(ADDR_WIDTH, "MODULE"),
        "NAME",
        centered(ADDR_WIDTH, base_title),
        "SIZE",
        nw = t.name_width,
        sw = t.size_width
    );
    for r in &t.rows {
        let _ = write!(
            s,
            "{:016x}  {:<nw$}  {:016x}  {:>sw$}  ",
            r.module,
            r.name,
            r.base,
            r.size,
            nw = t.name_width,
            sw = t.size_width
        );
        match &r.object_file {
            Some(path) => {
                let _ = writeln!(s, "{path} ");
            }
            None if r.kallsyms => s.push_str("(not loaded)  [CONFIG_KALLSYMS]\n"),
            None => s.push_str("(not loaded)\n"),
        }
    }
    // crash reports the modules it could not load after the table.
    for p in &t.problems {
        let _ = match &p.error {
            None => writeln!(s, "mod: cannot find or load object file for {} module", p.module),
            Some(e) => writeln!(s, "mod: {}: {e}", p.module),
        };
    }
    for w in &t.warnings {
        let _ = writeln!(s, "mod: WARNING: {w}");
    }
    s
}

/// `text` centred in `width` columns, extra space going to the right.
fn centered(width: usize, text: &str) -> String {
    let pad = width.saturating_sub(text.len());
    let left = pad / 2;
    format!("{}{}{}", " ".repeat(left), text, " ".repeat(pad - left))
}

fn render_taints(rows: &[TaintRow]) -> String {
    if rows.is_empty() {
        return "no tainted modules\n".to_string();
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let mut s = format!("{:<width$}  TAINTS\n", "NAME");
    for r in rows {
        let _ = writeln!(s, "{:<width$}  {}", r.name, r.taints);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_commands::output::{LoadProblem, ModuleRow};

    #[test]
    fn table_and_load_problems() {
        let t = ModuleTable {
            rows: vec![ModuleRow {
                module: 0xffffffffc0400000,
                name: "m".into(),
                base: 0xffffffffc0401000,
                size: 4096,
                object_file: None,
                kallsyms: true,
            }],
            name_width: 1,
            size_width: 4,
            text_base: false,
            warnings: vec!["x.ko: the object file has no build id".into()],
            problems: vec![
                LoadProblem { module: "a".into(), error: None },
                LoadProblem { module: "b".into(), error: Some("bad ELF".into()) },
            ],
        };
        assert_eq!(
            render(&ModuleOutput::Table(t)),
            "     MODULE       NAME        BASE        SIZE  OBJECT FILE\n\
             ffffffffc0400000  m  ffffffffc0401000  4096  (not loaded)  [CONFIG_KALLSYMS]\n\
             mod: cannot find or load object file for a module\n\
             mod: b: bad ELF\n\
             mod: WARNING: x.ko: the object file has no build id\n"
        );
    }
}
