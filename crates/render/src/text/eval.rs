use std::fmt::Write;

use krash_commands::output::Eval;

const KB: u64 = 1 << 10;
const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;

/// crash's `eval` block: hexadecimal (with a KB/MB/GB shorthand for a
/// whole number of them), decimal (and signed when negative), octal,
/// 64 binary digits, and with `-b` the set bits, 77 columns a line.
pub(crate) fn render(e: &Eval) -> String {
    let v = e.value;
    let mut s = String::new();
    let _ = write!(s, "hexadecimal: {v:x}  ");
    if v >= KB {
        if v.is_multiple_of(GB) {
            let _ = write!(s, "({}GB)", v / GB);
        } else if v.is_multiple_of(MB) {
            let _ = write!(s, "({}MB)", v / MB);
        } else if v.is_multiple_of(KB) {
            let _ = write!(s, "({}KB)", v / KB);
        }
    }
    s.push('\n');
    let _ = write!(s, "    decimal: {v}  ");
    if (v as i64) < 0 {
        let _ = write!(s, "({})", v as i64);
    }
    s.push('\n');
    let _ = writeln!(s, "      octal: {v:o}");
    let _ = writeln!(s, "     binary: {v:064b}");
    if e.show_bits {
        const HEADER: &str = "   bits set: ";
        s.push_str(HEADER);
        let mut column = HEADER.len();
        for bit in e.bits_set() {
            let word = format!("{bit} ");
            s.push_str(&word);
            column += word.len();
            if column >= 77 {
                s.push('\n');
                s.push_str(&" ".repeat(HEADER.len()));
                column = HEADER.len();
            }
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_layout() {
        let text = render(&Eval { value: 128 << 20, show_bits: false });
        assert_eq!(
            text,
            "hexadecimal: 8000000  (128MB)\n    decimal: 134217728  \n      octal: 1000000000\n     binary: \
             0000000000000000000000000000000000001000000000000000000000000000\n"
        );
        let text = render(&Eval { value: 0x41dc065, show_bits: true });
        assert!(text.starts_with("hexadecimal: 41dc065  \n    decimal: 69058661  \n      octal: 407340145\n"));
        assert!(text.ends_with("   bits set: 26 20 19 18 16 15 14 6 5 2 0 \n"), "{text}");
        let text = render(&Eval { value: 64 << 30, show_bits: false });
        assert!(text.starts_with("hexadecimal: 1000000000  (64GB)\n"));
        let text = render(&Eval { value: u64::MAX, show_bits: false });
        assert!(text.contains("    decimal: 18446744073709551615  (-1)\n"));
        let text = render(&Eval { value: 3 << 10, show_bits: false });
        assert!(text.starts_with("hexadecimal: c00  (3KB)\n"));
    }

    #[test]
    fn many_bits_wrap_at_77_columns() {
        let text = render(&Eval { value: u64::MAX, show_bits: true });
        let lines: Vec<&str> = text.lines().skip(4).collect();
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= 80), "{lines:?}");
        assert!(lines[1].starts_with("             "));
        let listed: usize =
            lines.iter().map(|l| l.split_whitespace().filter(|w| w.parse::<u32>().is_ok()).count()).sum();
        assert_eq!(listed, 64);
    }
}
