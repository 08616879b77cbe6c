use std::fmt::Write;

use krash_commands::output::{TreeOutput, TreePosition};

use super::value::{write_members, write_value};

/// One entry a line, its position and `-s` members under it; the reason
/// when the walk stopped early.
pub(crate) fn render(t: &TreeOutput) -> String {
    let mut out = String::new();
    for e in &t.entries {
        let _ = writeln!(out, "{:x}", e.addr);
        match &e.position {
            Some(TreePosition::Path { path }) => {
                let _ = writeln!(out, "  position: {path}");
            }
            Some(TreePosition::Index { index }) => {
                let _ = writeln!(out, "  index: {index}");
            }
            Some(TreePosition::Range { first, last }) => {
                let _ = writeln!(out, "  index: {first}-{last}");
            }
            None => {}
        }
        if let Some(o) = &e.object {
            // Laid out as a member line named after the type.
            out.push_str("  ");
            out.push_str(o.header.keyword.keyword());
            out.push(' ');
            out.push_str(&o.header.name);
            out.push_str(" = ");
            write_value(&mut out, &o.value, 2);
            out.push('\n');
        }
        write_members(&mut out, &e.members);
    }
    if let Some(b) = &t.broken {
        let _ = writeln!(out, "tree: {b}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_commands::output::{Aggregate, ObjectValue, TreeEntry, TypeHeader, ValueText};

    #[test]
    fn positions_and_objects() {
        let entry = |position, object| TreeEntry { addr: 0x10, position, members: Vec::new(), object };
        let object = ObjectValue {
            header: TypeHeader { keyword: Aggregate::Struct, name: "vmap_area".into() },
            value: ValueText::scalar("{}"),
        };
        let t = TreeOutput {
            entries: vec![
                entry(Some(TreePosition::Path { path: "root/l".into() }), None),
                entry(Some(TreePosition::Index { index: 3 }), None),
                entry(Some(TreePosition::Range { first: 4, last: 7 }), Some(object)),
            ],
            broken: Some("cycle at 10".into()),
        };
        assert_eq!(
            render(&t),
            "10\n  position: root/l\n10\n  index: 3\n10\n  index: 4-7\n  struct vmap_area = {}\ntree: cycle at 10\n"
        );
    }
}
