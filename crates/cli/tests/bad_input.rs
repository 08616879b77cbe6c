//! Bad input gets one clear line on stderr and a non-zero exit, never a
//! panic: directories, empty, random and truncated files, a vmlinux from
//! another kernel.

mod common;

use common::{krash, lab_dumps};

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("krash-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn assert_clean_failure(args: &[&str], expect: &str) {
    let run = krash(args, "sys\nq\n");
    assert!(!run.success, "{args:?} should fail");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: want one error line, got: {}", run.stderr);
    assert!(lines[0].starts_with("krash: "), "{}", lines[0]);
    assert!(lines[0].contains(expect), "{args:?}: {:?} lacks {expect:?}", lines[0]);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn files_that_are_not_dumps() {
    let dir = tmp("a-directory");
    std::fs::create_dir_all(&dir).expect("dir");
    let empty = tmp("empty");
    std::fs::write(&empty, b"").expect("write");
    let random = tmp("random");
    let mut bytes = vec![0u8; 1 << 20];
    let mut rng = krash_labtest::XorShift(0x9e37_79b9_7f4a_7c15);
    for b in bytes.iter_mut() {
        *b = rng.next() as u8;
    }
    std::fs::write(&random, &bytes).expect("write");
    assert_clean_failure(&[dir.to_str().unwrap_or_default()], "is a directory");
    assert_clean_failure(&[empty.to_str().unwrap_or_default()], "empty file");
    assert_clean_failure(&[random.to_str().unwrap_or_default()], "not a vmlinux (ELF) or a kernel dump");
    assert_clean_failure(&["/nonexistent/vmcore"], "No such file");
    // A kdump signature on garbage: the header parser must refuse it cleanly.
    let fake = tmp("fake-kdump");
    let mut b = b"KDUMP   ".to_vec();
    b.extend_from_slice(&bytes[..8192]);
    std::fs::write(&fake, &b).expect("write");
    let run = krash(&[fake.to_str().unwrap_or_default()], "q\n");
    assert!(!run.success && run.stderr.starts_with("krash: ") && !run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn mismatched_vmlinux_is_refused() {
    let dumps = lab_dumps();
    let Some(a) = dumps.iter().find(|d| d.kernel.starts_with("6.1.")) else { return };
    let Some(b) = dumps.iter().find(|d| d.kernel.starts_with("6.12")) else { return };
    let va = a.vmlinux.to_str().unwrap_or_default();
    let vb = b.vmlinux.to_str().unwrap_or_default();
    assert_clean_failure(&[vb, a.vmcore.to_str().unwrap_or_default()], "does not match the dump");
    assert_clean_failure(&[va, b.vmcore.to_str().unwrap_or_default()], "does not match the dump");
}

#[test]
fn truncated_dumps_open_or_fail_clearly() {
    let Some(d) = lab_dumps().into_iter().find(|d| d.format == "kdump-zlib") else { return };
    let full = std::fs::read(&d.vmcore).expect("read dump");
    let vmlinux = d.vmlinux.to_str().unwrap_or_default().to_string();
    for (name, len) in [("half", full.len() / 2), ("tiny", 100_000), ("header-only", 4096)] {
        let path = tmp(&format!("truncated-{name}"));
        std::fs::write(&path, &full[..len]).expect("write");
        let run = krash(&["-s", &vmlinux, path.to_str().unwrap_or_default()], "sys\nlog\nps\n");
        assert!(!run.stderr.contains("panicked"), "{name}: {}", run.stderr);
        if run.success {
            assert!(run.stderr.contains("truncated"), "{name}: opened without saying it is truncated: {}", run.stderr);
        } else {
            assert!(run.stderr.starts_with("krash: "), "{name}: {}", run.stderr);
            assert!(run.stderr.contains("truncated"), "{name}: {}", run.stderr);
        }
    }
}

#[test]
fn unreadable_file_is_refused_clearly() {
    // As root every file is readable, so use one whose read fails:
    // /proc/self/mem gives EIO at offset 0.
    let run = krash(&["/proc/self/mem"], "q\n");
    assert!(!run.success);
    assert!(run.stderr.starts_with("krash: /proc/self/mem: "), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}
