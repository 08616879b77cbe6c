use std::fmt::Write;

use krash_commands::output::Variables;

/// `set scroll` shows `scroll: on (less -XFRK)`; `set -v` aligns the names
/// on the colon, as crash does.
pub(crate) fn render(v: &Variables) -> String {
    let mut s = String::new();
    for var in &v.variables {
        if v.all {
            let _ = write!(s, "{:>18}: {}", var.name, var.value);
        } else {
            let _ = write!(s, "{}: {}", var.name, var.value);
        }
        if let Some(note) = &var.note {
            let _ = write!(s, " ({note})");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use krash_commands::output::Variable;

    #[test]
    fn one_or_all() {
        let scroll = Variable { name: "scroll".into(), value: "off".into(), note: Some("less -XFRK".into()) };
        let radix = Variable { name: "radix".into(), value: "16".into(), note: Some("hex".into()) };
        let one = Variables { variables: vec![scroll.clone()], all: false };
        assert_eq!(render(&one), "scroll: off (less -XFRK)\n");
        let all = Variables { variables: vec![scroll, radix], all: true };
        assert_eq!(render(&all), "            scroll: off (less -XFRK)\n             radix: 16 (hex)\n");
    }
}
