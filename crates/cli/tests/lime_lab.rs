//! LiME images: a lab ELF dump rewritten as a LiME image (its PT_LOADs are
//! physical ranges) must give the same `sys` (bar DUMPFILE), `ps`, `mod`
//! and `log` as the ELF dump, with and without the vmlinux. A LiME image
//! has no CPU notes, so the panic task's backtrace is recovered by stack
//! scanning and differs (see docs/COMPAT.md). When the lab's live scenario
//! has a real LiME image, it is checked against that scenario's kdump.

mod common;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use common::{field, krash, lab_dumps, lab_images, sys_fields, LabDump};

const COMMANDS: &str = "sys\nps\nmod\nlog\n";

/// Writes the PT_LOAD segments of an ELF vmcore as a LiME image. Overlapping
/// segments (kernel text also inside a RAM segment) are clipped so ranges
/// never overlap, as LiME's own are.
fn elf_to_lime(elf: &Path, lime: &Path) {
    let mut f = std::fs::File::open(elf).unwrap();
    let mut ehdr = [0u8; 64];
    f.read_exact(&mut ehdr).unwrap();
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap());
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let phoff = u64_at(&ehdr, 32);
    let (phentsize, phnum) = (u16_at(&ehdr, 54) as usize, u16_at(&ehdr, 56) as usize);
    let mut table = vec![0u8; phentsize * phnum];
    f.seek(SeekFrom::Start(phoff)).unwrap();
    f.read_exact(&mut table).unwrap();
    // (paddr, filesz, offset) of every PT_LOAD with data.
    let mut segs: Vec<(u64, u64, u64)> = (0..phnum)
        .map(|i| &table[i * phentsize..])
        .filter(|p| u32_at(p, 0) == 1 && u64_at(p, 32) > 0)
        .map(|p| (u64_at(p, 24), u64_at(p, 32), u64_at(p, 8)))
        .collect();
    segs.sort();
    let mut out = std::io::BufWriter::new(std::fs::File::create(lime).unwrap());
    let mut covered = 0u64;
    for (paddr, size, offset) in segs {
        let start = paddr.max(covered);
        if start >= paddr + size {
            continue;
        }
        let len = paddr + size - start;
        out.write_all(&0x4C69_4D45u32.to_le_bytes()).unwrap();
        out.write_all(&1u32.to_le_bytes()).unwrap();
        out.write_all(&start.to_le_bytes()).unwrap();
        out.write_all(&(start + len - 1).to_le_bytes()).unwrap();
        out.write_all(&[0u8; 8]).unwrap();
        f.seek(SeekFrom::Start(offset + (start - paddr))).unwrap();
        std::io::copy(&mut (&mut f).take(len), &mut out).unwrap();
        covered = paddr + size;
    }
    out.flush().unwrap();
}

/// Output with the lines that name the file dropped.
fn without_dumpfile(text: &str) -> String {
    text.lines().filter(|l| !l.trim_start().starts_with("DUMPFILE:")).collect::<Vec<_>>().join("\n")
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("krash-lime-lab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn lime_from_elf_matches_the_elf_dump() {
    let elf_dumps: Vec<LabDump> = lab_dumps().into_iter().filter(|d| d.format == "elf").collect();
    if elf_dumps.is_empty() {
        eprintln!("note: no lab ELF dumps; LiME conversion test skipped");
        return;
    }
    let dir = scratch_dir();
    for d in &elf_dumps {
        let lime = dir.join(format!("{}-{}.lime", d.kernel, d.scenario));
        let before = modified(&d.vmcore);
        elf_to_lime(&d.vmcore, &lime);
        let (elf_path, lime_path) = (d.vmcore.to_string_lossy().into_owned(), lime.to_string_lossy().into_owned());
        let vmlinux = d.vmlinux.to_string_lossy().into_owned();
        for with_vmlinux in [false, true] {
            let (on_elf, on_lime) = if with_vmlinux {
                (krash(&["-s", &vmlinux, &elf_path], COMMANDS), krash(&["-s", &vmlinux, &lime_path], COMMANDS))
            } else {
                (
                    krash(&["-s", "--no-search", &elf_path], COMMANDS),
                    krash(&["-s", "--no-search", &lime_path], COMMANDS),
                )
            };
            if modified(&d.vmcore) != before {
                eprintln!("note: {} was rebuilt by the lab during the test; skipped", d.label());
                break;
            }
            assert!(on_lime.success, "{} as LiME: {}", d.label(), on_lime.stderr);
            assert!(on_lime.stdout.contains("RELEASE:"), "{} as LiME: no sys output", d.label());
            assert_eq!(
                without_dumpfile(&on_lime.stdout),
                without_dumpfile(&on_elf.stdout),
                "{} (vmlinux: {with_vmlinux}): LiME and ELF differ",
                d.label()
            );
        }
        let _ = std::fs::remove_file(&lime);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The lab's real LiME image (taken by the LiME module in the live
/// scenario's guest) against the kdump taken from the same guest moments
/// later: the same kernel, modules and early log.
#[test]
fn lab_lime_image_matches_its_kdump() {
    let all = lab_images();
    let limes: Vec<&LabDump> = all.iter().filter(|d| d.format == "lime").collect();
    if limes.is_empty() {
        eprintln!("note: no lab LiME image yet (the live scenario); skipped");
        return;
    }
    for lime in limes {
        let Some(kdump) = all
            .iter()
            .find(|d| d.kernel == lime.kernel && d.scenario == lime.scenario && d.format.starts_with("kdump"))
        else {
            eprintln!("note: {}: no kdump of the same scenario to compare with", lime.label());
            continue;
        };
        for with_vmlinux in [false, true] {
            let run = |d: &LabDump| {
                let path = d.vmcore.to_string_lossy().into_owned();
                let vmlinux = d.vmlinux.to_string_lossy().into_owned();
                if with_vmlinux {
                    krash(&["-s", &vmlinux, &path], COMMANDS)
                } else {
                    krash(&["-s", "--no-search", &path], COMMANDS)
                }
            };
            let (on_lime, on_kdump) = (run(lime), run(kdump));
            assert!(on_lime.success, "{}: {}", lime.label(), on_lime.stderr);
            let (lf, kf) = (sys_fields(&on_lime.stdout), sys_fields(&on_kdump.stdout));
            for key in ["RELEASE", "VERSION", "MACHINE", "MEMORY", "NODENAME", "CPUS"] {
                let lv = field(&lf, key).map(|v| v.split("  (").next().unwrap_or(v).to_string());
                let kv = field(&kf, key).map(|v| v.split("  (").next().unwrap_or(v).to_string());
                assert_eq!(lv, kv, "{}: sys {key}", lime.label());
            }
            let modules = |text: &str| -> Vec<String> {
                let mut m: Vec<String> = text
                    .lines()
                    .filter(|l| l.starts_with("ffff"))
                    .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
                    .collect();
                m.sort();
                m
            };
            let (lm, km) = (modules(&on_lime.stdout), modules(&on_kdump.stdout));
            assert!(!lm.is_empty(), "{}: mod lists nothing", lime.label());
            for m in &lm {
                assert!(km.contains(m), "{}: module {m} not in the kdump", lime.label());
            }
            // The kernel log of the earlier image is the start of the later one's.
            let first_log_line = on_lime.stdout.lines().find(|l| l.starts_with("[    0.000000]"));
            if let Some(line) = first_log_line {
                assert!(on_kdump.stdout.contains(line), "{}: log start differs", lime.label());
            }
        }
    }
}
