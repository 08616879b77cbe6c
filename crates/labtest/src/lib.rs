//! Where krash's dump lab is (`lab/build`), for the workspace's tests; a
//! dev-dependency only, depending on no krash crate.
//!
//! The lab lives in `$KRASH_LAB_DIR` (default `/var/cache/krash-lab`). A
//! test that finds what it needs missing calls [`skip_or_fail`]: with
//! `KRASH_REQUIRE_LAB=1` (what `scripts/test` sets) that is a failure,
//! otherwise a note on stderr and the test goes on without it. A lab test
//! that ends having compared nothing calls [`assert_compared`].

use std::fmt::Display;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Where the lab is when `$KRASH_LAB_DIR` is unset.
pub const DEFAULT_LAB_DIR: &str = "/var/cache/krash-lab";

/// The lab's kernels (`KERNELS` in `lab/tools/kernels.py`), oldest first: Debian's
/// cloud-amd64 5.10 (bullseye-security), 6.1 (bookworm), 6.12 (bookworm) and 7.2 (sid).
pub const KERNELS: [&str; 4] =
    ["5.10.0-43-cloud-amd64", "6.1.0-56-cloud-amd64", "6.12.117+deb12-cloud-amd64", "7.2.13+deb14-cloud-amd64"];

/// The lab's no-BTF, frame-pointer, SLAB-allocator kernel (`flavor:
/// fp-slab` in `lab/tools/kernels.py`), built by the lab from Debian's
/// `linux-source-6.1`: the shape of RHEL 7/8.0, Ubuntu 20.04 and Debian 10
/// kernels. Its dumps are in the index with the others.
pub const FP_SLAB_KERNEL: &str = "6.1.192-krash-fp";

/// The kernels with golden transcripts (`GOLDEN_KERNELS` in `lab/build` and
/// `lab/golden`): the first baseline's two, kept for the test command's time.
pub const GOLDEN_KERNELS: [&str; 2] = ["6.1.0-56-cloud-amd64", "6.12.117+deb12-cloud-amd64"];

/// The kernels whose gdb and crash transcripts are recorded in the
/// crates' `tests/data` (taken before the lab had other kernels): the
/// tests comparing with them run on these.
pub const TRANSCRIPT_KERNELS: [&str; 2] = GOLDEN_KERNELS;

/// The one kernel whose scenarios have every dump format (compression
/// variants, ELF, QEMU's dumps); the others have the main kdump only.
pub const VARIANT_KERNEL: &str = "6.1.0-56-cloud-amd64";

/// The lab's arm64 kernels (`arch: arm64` in `lab/tools/kernels.py`), oldest
/// first: Debian's cloud-arm64 6.1 and 6.12 (bookworm), then the same 6.12's
/// generic builds with 16 KiB pages ([`ARM64_16K_KERNEL`]) and with
/// PREEMPT_RT ([`ARM64_RT_KERNEL`]), each with the scenarios its difference
/// touches. All boot under `qemu-system-aarch64 -M virt -cpu
/// max,pauth-impdef=on` (TCG; pointer authentication on). Their dumps are
/// apart from the others: see [`arm64_manifests`]; [`manifests`] never lists
/// them.
pub const ARM64_KERNELS: [&str; 4] =
    ["6.1.0-56-cloud-arm64", "6.12.117+deb12-cloud-arm64", ARM64_16K_KERNEL, ARM64_RT_KERNEL];

/// Debian's arm64-16k 6.12: 16 KiB pages, 52-bit VA by LPA2 (four table
/// levels), scenarios null-member and slab-corrupt.
pub const ARM64_16K_KERNEL: &str = "6.12.117+deb12-arm64-16k";

/// Debian's rt-arm64 6.12: PREEMPT_RT (sleeping spinlocks, mutexes over
/// rt_mutex), 4 KiB pages, scenarios null-member and hung-task.
pub const ARM64_RT_KERNEL: &str = "6.12.117+deb12-rt-arm64";

/// The arm64 kernel whose scenarios have every arm64 format (kdump-zlib,
/// flattened, makedumpfile's ELF, QEMU's ELF and kdump files). The other's
/// (6.12: VA_BITS 52, which makedumpfile 1.7.2 refuses) have one dump, the
/// ELF file the capture kernel's `/proc/vmcore` was (format `elf`, producer
/// `/proc/vmcore`): a manifest's `main_format` says which dump is the main one.
pub const ARM64_VARIANT_KERNEL: &str = "6.1.0-56-cloud-arm64";

/// A manifest's architecture when it names none (manifests written before arm64).
pub const DEFAULT_ARCH: &str = "x86_64";

/// The lab's guest architectures, and where `dumps/index.json` lists each one's
/// manifests: the x86-64 ones stay in `manifests`, where the tests written
/// before arm64 (some reading the index directly) look.
pub const ARCH_INDEX_LISTS: [(&str, &str); 2] = [("x86_64", "manifests"), ("arm64", "arm64_manifests")];

/// The lab directory: `$KRASH_LAB_DIR`, or [`DEFAULT_LAB_DIR`].
pub fn lab_dir() -> PathBuf {
    std::env::var_os("KRASH_LAB_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_LAB_DIR), PathBuf::from)
}

/// Whether the lab must be there (`KRASH_REQUIRE_LAB=1`): then nothing may be skipped.
pub fn required() -> bool {
    std::env::var("KRASH_REQUIRE_LAB").as_deref() == Ok("1")
}

/// A lab test cannot do (part of) its work: panics when the lab is
/// required, otherwise prints a note saying what was skipped.
#[track_caller]
pub fn skip_or_fail(reason: impl Display) {
    if required() {
        panic!("KRASH_REQUIRE_LAB=1: {reason} (lab: {}; run lab/build)", lab_dir().display());
    }
    eprintln!("note: skipped: {reason} (lab: {})", lab_dir().display());
}

/// `path` when it exists; otherwise [`skip_or_fail`] and `None`.
#[track_caller]
pub fn present(path: PathBuf) -> Option<PathBuf> {
    if path.exists() {
        Some(path)
    } else {
        skip_or_fail(format_args!("{} not present", path.display()));
        None
    }
}

/// Ends a lab test that counts what it compared: comparing nothing fails
/// when the lab is required or holds dumps (the test's filter found none of
/// what it looks for), and is a skip note only when there is no lab at all.
#[track_caller]
pub fn assert_compared(compared: usize, what: impl Display) {
    if compared > 0 {
        eprintln!("{what}: {compared} compared");
        return;
    }
    if required() || lab_dir().join("dumps/index.json").exists() {
        panic!("{what}: nothing compared (lab: {})", lab_dir().display());
    }
    eprintln!("note: skipped: {what}: no lab under {}", lab_dir().display());
}

/// The extracted packages of kernel `kv` (`linux-image-<kv>-unsigned` and `-dbg`).
pub fn kernel_root(kv: &str) -> PathBuf {
    lab_dir().join("kernels").join(kv).join("root")
}

/// Where the vmlinux (with DWARF) of kernel `kv` is, present or not.
pub fn vmlinux_path(kv: &str) -> PathBuf {
    kernel_root(kv).join(format!("usr/lib/debug/boot/vmlinux-{kv}"))
}

/// The vmlinux of kernel `kv`, or `None` after [`skip_or_fail`].
#[track_caller]
pub fn vmlinux(kv: &str) -> Option<PathBuf> {
    present(vmlinux_path(kv))
}

/// The System.map of kernel `kv`, or `None` after [`skip_or_fail`].
#[track_caller]
pub fn system_map(kv: &str) -> Option<PathBuf> {
    let root = kernel_root(kv);
    // 7.x's -dbg package keeps it beside the vmlinux under lib/modules.
    let beside_vmlinux = root.join(format!("usr/lib/debug/lib/modules/{kv}/System.map"));
    if beside_vmlinux.exists() {
        return Some(beside_vmlinux);
    }
    present(root.join(format!("usr/lib/debug/boot/System.map-{kv}")))
}

/// The directory of kernel `kv`'s modules with debug info (`-dbg` package).
pub fn module_debug_dir(kv: &str) -> PathBuf {
    kernel_root(kv).join(format!("usr/lib/debug/lib/modules/{kv}"))
}

/// A stock module of kernel `kv` with its debug info, by its path under
/// `kernel/` (e.g. `net/key/af_key.ko`), or `None` after [`skip_or_fail`].
#[track_caller]
pub fn kernel_module(kv: &str, rel: &str) -> Option<PathBuf> {
    present(module_debug_dir(kv).join("kernel").join(rel))
}

/// The directory of one scenario's dumps, manifest and module.
pub fn scenario_dir(kv: &str, scenario: &str) -> PathBuf {
    lab_dir().join("dumps").join(kv).join(scenario)
}

/// The lab's own module (`krash_scenarios.ko`, with DWARF) as loaded in
/// `scenario` on kernel `kv`, or `None` after [`skip_or_fail`].
#[track_caller]
pub fn scenario_module(kv: &str, scenario: &str) -> Option<PathBuf> {
    present(scenario_dir(kv, scenario).join("krash_scenarios.ko"))
}

/// Every x86-64 scenario manifest listed in `dumps/index.json`: (its path,
/// its content). Empty when the lab has no index; unreadable entries are left
/// out. The arm64 ones are [`arm64_manifests`].
pub fn manifests() -> Vec<(PathBuf, Value)> {
    manifests_for_arch(DEFAULT_ARCH)
}

/// Every arm64 scenario manifest listed in `dumps/index.json` (kernels
/// [`ARM64_KERNELS`]), as [`manifests`] lists the x86-64 ones.
pub fn arm64_manifests() -> Vec<(PathBuf, Value)> {
    manifests_for_arch("arm64")
}

/// The scenario manifests of one guest architecture (`"x86_64"` or
/// `"arm64"`) in the lab's `dumps/index.json`.
pub fn manifests_for_arch(arch: &str) -> Vec<(PathBuf, Value)> {
    manifests_in(&lab_dir(), arch)
}

/// A manifest's guest architecture: its `arch`, [`DEFAULT_ARCH`] when it names none.
pub fn manifest_arch(manifest: &Value) -> &str {
    manifest["arch"].as_str().unwrap_or(DEFAULT_ARCH)
}

fn manifests_in(lab: &Path, arch: &str) -> Vec<(PathBuf, Value)> {
    let Some(&(_, list)) = ARCH_INDEX_LISTS.iter().find(|(a, _)| *a == arch) else {
        panic!("no lab architecture {arch:?} (the lab's: {ARCH_INDEX_LISTS:?})")
    };
    let Ok(text) = std::fs::read_to_string(lab.join("dumps/index.json")) else { return Vec::new() };
    let index: Value = serde_json::from_str(&text).expect("the lab's dumps/index.json is valid JSON");
    let mut out = Vec::new();
    for entry in index[list].as_array().into_iter().flatten() {
        let Some(path) = entry["manifest"].as_str().map(PathBuf::from) else { continue };
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let manifest: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not valid JSON: {e}", path.display()));
        // The index keeps the architectures apart; a manifest says its own too.
        if manifest_arch(&manifest) == arch {
            out.push((path, manifest));
        }
    }
    out
}

/// The big machine's manifests (`big.json`, lab/big/README.md) listed in
/// `dumps/index.json` as `big_manifests`: (path, content). Empty when the lab
/// made none.
pub fn big_manifests() -> Vec<(PathBuf, Value)> {
    let Ok(text) = std::fs::read_to_string(lab_dir().join("dumps/index.json")) else { return Vec::new() };
    let index: Value = serde_json::from_str(&text).expect("the lab's dumps/index.json is valid JSON");
    let mut out = Vec::new();
    for path in index["big_manifests"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let path = PathBuf::from(path);
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let manifest: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not valid JSON: {e}", path.display()));
        out.push((path, manifest));
    }
    out
}

/// The directory a manifest describes (where its dump files are).
pub fn manifest_dir(manifest_path: &Path) -> PathBuf {
    manifest_path.parent().map(Path::to_path_buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line_bodies_lose_stamp_and_caller_id() {
        assert_eq!(log_line_body("[   11.115095] krash: running"), Some("krash: running"));
        assert_eq!(log_line_body("[   11.115095] [      C1] RIP: 0010:x"), Some("RIP: 0010:x"));
        assert_eq!(log_line_body("[    1.0] [    T123] a] b"), Some("a] b"));
        // A bracket that is not a caller id stays.
        assert_eq!(log_line_body("[    1.0] [ cut here ] x"), Some("[ cut here ] x"));
        assert_eq!(log_line_body("no stamp"), None);
    }

    #[test]
    fn paths_follow_the_lab_layout() {
        let kv = KERNELS[1];
        let root = kernel_root(kv);
        assert!(root.starts_with(lab_dir()));
        assert_eq!(vmlinux_path(kv), root.join("usr/lib/debug/boot/vmlinux-6.1.0-56-cloud-amd64"));
        assert_eq!(module_debug_dir(kv), root.join("usr/lib/debug/lib/modules/6.1.0-56-cloud-amd64"));
        assert_eq!(scenario_dir(kv, "hung-task"), lab_dir().join("dumps/6.1.0-56-cloud-amd64/hung-task"));
        assert_eq!(manifest_dir(Path::new("/a/b/manifest.json")), PathBuf::from("/a/b"));
    }

    fn oldest_first<const N: usize>(kernels: [&str; N]) -> [&str; N] {
        let mut sorted = kernels;
        sorted.sort_by_key(|kv| {
            let mut parts = kv.split(['.', '-', '+']).map(|p| p.parse::<u32>().unwrap_or(0));
            (parts.next(), parts.next(), parts.next())
        });
        sorted
    }

    #[test]
    fn golden_and_variant_kernels_are_lab_kernels() {
        assert!(GOLDEN_KERNELS.iter().all(|kv| KERNELS.contains(kv)));
        assert!(KERNELS.contains(&VARIANT_KERNEL));
        assert_eq!(oldest_first(KERNELS), KERNELS, "KERNELS is oldest first");
    }

    #[test]
    fn arm64_kernels_are_apart_from_the_others() {
        // Debian names its arm64 flavors `-arm64` (cloud-arm64, rt-arm64)
        // or `-arm64-VARIANT` (arm64-16k).
        assert!(ARM64_KERNELS.iter().all(|kv| kv.ends_with("-arm64") || kv.contains("-arm64-")));
        assert!(ARM64_KERNELS.iter().all(|kv| !KERNELS.contains(kv) && *kv != FP_SLAB_KERNEL));
        assert!(ARM64_KERNELS.contains(&ARM64_VARIANT_KERNEL));
        assert_eq!(oldest_first(ARM64_KERNELS), ARM64_KERNELS, "ARM64_KERNELS is oldest first");
    }

    /// A lab directory of its own under the system's temporary directory, removed on drop.
    struct ScratchLab(PathBuf);

    impl ScratchLab {
        fn new(name: &str) -> ScratchLab {
            let dir = std::env::temp_dir().join(format!("krash-labtest-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("dumps")).expect("make a scratch lab directory");
            ScratchLab(dir)
        }

        fn manifest(&self, name: &str, content: &str) -> String {
            let path = self.0.join("dumps").join(name);
            std::fs::write(&path, content).expect("write a scratch manifest");
            path.display().to_string()
        }
    }

    impl Drop for ScratchLab {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn manifests_are_listed_by_architecture() {
        let lab = ScratchLab::new("arch");
        let old = lab.manifest("old.json", r#"{"kernel": "6.1.0-56-cloud-amd64"}"#);
        let x86 = lab.manifest("x86.json", r#"{"kernel": "6.12.117+deb12-cloud-amd64", "arch": "x86_64"}"#);
        let arm64 = lab.manifest("arm64.json", r#"{"kernel": "6.1.0-56-cloud-arm64", "arch": "arm64"}"#);
        // An arm64 manifest in the x86-64 list is still not an x86-64 dump.
        let misplaced = lab.manifest("misplaced.json", r#"{"kernel": "6.12.117+deb12-cloud-arm64", "arch": "arm64"}"#);
        let index = serde_json::json!({
            "manifests": [{"manifest": old}, {"manifest": x86}, {"manifest": misplaced}],
            "arm64_manifests": [{"manifest": arm64}],
        });
        std::fs::write(lab.0.join("dumps/index.json"), index.to_string()).expect("write a scratch index");
        let kernels = |arch| {
            manifests_in(&lab.0, arch)
                .iter()
                .map(|(_, m)| m["kernel"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(kernels("x86_64"), ["6.1.0-56-cloud-amd64", "6.12.117+deb12-cloud-amd64"]);
        assert_eq!(kernels("arm64"), ["6.1.0-56-cloud-arm64"]);
        assert_eq!(manifest_arch(&serde_json::json!({})), "x86_64");
    }

    #[test]
    fn no_index_no_manifests() {
        let lab = ScratchLab::new("empty");
        assert!(manifests_in(&lab.0, "arm64").is_empty());
        assert!(manifests_in(&lab.0, "x86_64").is_empty());
    }
}

/// A deterministic pseudo-random generator (xorshift64) for tests that
/// damage or invent input: the same seed gives the same inputs, so a
/// failure reproduces.
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 random bits (the seed must not be 0).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// A kernel log line's text after its `[ time]` stamp and after the caller
/// id 7.x's makedumpfile log carries (`[      C1] `, `[    T123] `); None
/// for a line with no stamp. The tests' oracles read the kernel's own log
/// with this, apart from krash's own log parser.
pub fn log_line_body(line: &str) -> Option<&str> {
    let (_, rest) = line.split_once("] ")?;
    let caller = rest.strip_prefix('[').and_then(|r| r.split_once("] ")).filter(|(id, _)| {
        let id = id.trim_start();
        id.len() > 1 && (id.starts_with('T') || id.starts_with('C')) && id[1..].bytes().all(|b| b.is_ascii_digit())
    });
    Some(caller.map_or(rest, |(_, after)| after))
}
