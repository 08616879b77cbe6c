//! gdb's `print` layout (with `pretty on`, as crash sets it) for the
//! value trees commands produce.

use krash_commands::output::ValueText;
use krash_commands::output::{MemberValue, ObjectValue};

/// Appends `v` as gdb prints it when the line it starts on is indented by
/// `indent` spaces.
pub(crate) fn write_value(out: &mut String, v: &ValueText, indent: usize) {
    match v {
        ValueText::Scalar { text, .. } => out.push_str(text),
        ValueText::Struct { fields, .. } => {
            out.push_str("{\n");
            for (i, f) in fields.iter().enumerate() {
                push_spaces(out, indent + 2);
                if let Some(name) = &f.name {
                    out.push_str(name);
                    out.push_str(" = ");
                }
                write_value(out, &f.value, indent + 2);
                if i + 1 < fields.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            push_spaces(out, indent);
            out.push('}');
        }
        ValueText::Array { elements, truncated, .. } => {
            out.push('{');
            for (i, e) in elements.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, e, indent + 2);
            }
            if *truncated {
                out.push_str("...");
            }
            out.push('}');
        }
    }
}

/// `struct x {...}`: an object headed by its type.
pub(crate) fn write_object(out: &mut String, o: &ObjectValue) {
    out.push_str(o.header.keyword.keyword());
    out.push(' ');
    out.push_str(&o.header.name);
    out.push(' ');
    write_value(out, &o.value, 0);
    out.push('\n');
}

/// `  name = value,` lines (crash's member display).
pub(crate) fn write_members(out: &mut String, members: &[MemberValue]) {
    for m in members {
        let indent = 2 + 2 * m.depth;
        push_spaces(out, indent);
        out.push_str(&m.name);
        out.push_str(" = ");
        write_value(out, &m.value, indent);
        out.push_str(if m.last { "\n" } else { ",\n" });
    }
}

fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}
