//! `kmem`'s whole-memory views on the lab dumps: on 6.1 equal to crash's
//! output (line for line where crash is right, value for value for `-i`),
//! and on every dump consistent with each other: `-i` FREE equals the zones'
//! free pages, the free lists and NR_FREE_PAGES; CACHED and SLAB follow the
//! `-V` counters; `-p` lists every page of every present section.

mod common;

use std::collections::BTreeMap;

use common::{crash_peer, krash_on, one_per_scenario, LabDump};

fn kmem(d: &LabDump, command: &str) -> String {
    let run = krash_on(d, &format!("{command}\n"));
    assert!(run.success && !run.stdout.is_empty(), "{}: {command} failed:\n{}{}", d.label(), run.stdout, run.stderr);
    run.stdout
}

/// `kmem -i` rows: name -> pages.
fn meminfo_rows(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.split_at(l.len().min(13));
            let pages = rest.split_whitespace().next()?.parse().ok()?;
            Some((name.trim().to_string(), pages))
        })
        .collect()
}

/// `NAME: value` counter lines, keyed by name (the first of each name).
fn counters(text: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for l in text.lines() {
        if let Some((name, value)) = l.split_once(": ") {
            if let Ok(v) = value.trim().parse::<i64>() {
                out.entry(name.trim().to_string()).or_insert(v);
            }
        }
    }
    out
}

#[test]
fn whole_memory_views_equal_crash_on_6_1() {
    let mut compared = 0;
    for d in one_per_scenario() {
        let Some(peer) = crash_peer(&d) else { continue };
        // Line for line: crash 8.0.2 is right on these.
        for cmd in ["kmem -f", "kmem -F", "kmem -V", "kmem -z", "kmem -n", "kmem -o", "kmem -h", "kmem -g 0x10000"] {
            let Some(theirs) = peer.output(cmd) else { continue };
            // A kernel without the feature (the flavor has no HUGETLBFS).
            if common::refused_as_crash_does(&d, cmd, theirs) {
                continue;
            }
            let ours = kmem(&d, cmd);
            assert_eq!(ours.trim_end(), theirs.trim_end(), "{}: {cmd} differs from crash", d.label());
        }
        // -i value for value. crash 8.0.2 does not know the 5.9+ byte-named
        // slab counters and counts PG_slab head pages instead; krash reads
        // NR_SLAB_*_B like the kernel's /proc/meminfo (docs/COMPAT.md).
        if let Some(theirs) = peer.output("kmem -i") {
            let ours = meminfo_rows(&kmem(&d, "kmem -i"));
            let theirs = meminfo_rows(theirs);
            for (name, pages) in &ours {
                if name == "SLAB" {
                    continue;
                }
                assert_eq!(Some(pages), theirs.get(name), "{}: kmem -i {name}", d.label());
            }
        }
        compared += 1;
    }
    krash_labtest::assert_compared(compared, "kmem -i/-f/-V/-z/-n/-o/-h/-g against crash on 6.1 dumps");
}

#[test]
fn whole_memory_views_agree_with_each_other() {
    common::on_each_dump(&one_per_scenario(), |d| {
        let label = d.label();
        let info = meminfo_rows(&kmem(d, "kmem -i"));
        let vm = counters(&kmem(d, "kmem -V"));
        let free = info["FREE"];
        assert_eq!(info["TOTAL MEM"], free + info["USED"], "{label}");
        assert_eq!(Some(&(free as i64)), vm.get("NR_FREE_PAGES"), "{label}: -i FREE vs -V NR_FREE_PAGES");
        let file = vm["NR_FILE_PAGES"] - vm.get("NR_SWAPCACHE").copied().unwrap_or(0) - info["BUFFERS"] as i64;
        assert_eq!(info["CACHED"] as i64, file.max(0), "{label}: CACHED");
        assert_eq!(info["SLAB"] as i64, vm["NR_SLAB_RECLAIMABLE_B"] + vm["NR_SLAB_UNRECLAIMABLE_B"], "{label}: SLAB");
        assert!(info["SLAB"] > 0 && info["CACHED"] <= info["USED"], "{label}: {info:?}");

        // The free lists hold the zones' NR_FREE_PAGES, give or take the
        // per-CPU deltas not yet folded into it (at most a stat threshold,
        // 125, per CPU and zone).
        let f = kmem(d, "kmem -f");
        let summary = f.lines().find(|l| l.starts_with("nr_free_pages: ")).unwrap_or_default();
        let found = match summary.strip_prefix(&format!("nr_free_pages: {free}  ")) {
            Some("(verified)") => free,
            Some(rest) => rest.trim_start_matches("(found ").trim_end_matches(')').parse().expect("found count"),
            None => panic!("{label}: {summary:?} does not start with NR_FREE_PAGES {free}"),
        };
        assert!(found.abs_diff(free) <= 125 * 2 * 8, "{label}: {summary}");
        let listed: u64 = f
            .lines()
            .filter(|l| l.ends_with(|c: char| c.is_ascii_digit()) && l.contains("k  ffff"))
            .filter_map(|l| l.split_whitespace().nth(4)?.parse::<u64>().ok())
            .sum();
        assert_eq!(listed, found, "{label}: PAGES column of kmem -f");

        // -f ADDR: the second page of a free block is found in that block.
        let verbose = kmem(d, "kmem -F");
        let mut order = 0u32;
        let mut block = None;
        for l in verbose.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() == 3 && f[1].ends_with('k') {
                order = f[0].parse().unwrap_or(0);
            } else if f.len() == 1 && order > 0 && f[0].len() == 16 {
                block = Some((order, u64::from_str_radix(f[0], 16).expect("page address")));
            }
        }
        let (order, first) = block.unwrap_or_else(|| panic!("{label}: no free block of order > 0 in kmem -F"));
        // The next struct page: 64 bytes on the cloud kernels, 56 on the
        // flavor (no memcg), as its types say.
        let page_size = kmem(d, "p sizeof(struct page)");
        let page_size: u64 = page_size
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{label}: sizeof(struct page): {page_size:?}"));
        let second = first + page_size;
        let hit = kmem(d, &format!("kmem -f {second:x}"));
        let expect = format!("{first:x}  ({second:x} is 2nd of {} pages)", 1u64 << order);
        assert!(hit.lines().any(|l| l == expect), "{label}: kmem -f {second:x}, expected {expect:?}:\n{hit}");

        // -z: each zone's NR_FREE_PAGES adds up to FREE.
        let z = kmem(d, "kmem -z");
        let zone_free: i64 =
            z.lines().filter_map(|l| l.trim().strip_prefix("NR_FREE_PAGES: ")?.parse::<i64>().ok()).sum();
        assert_eq!(zone_free, free as i64, "{label}: kmem -z free pages");

        // -p: one line per page of every present section (-n).
        let n = kmem(d, "kmem -n");
        let sections = n
            .lines()
            .skip_while(|l| !l.starts_with("NR      SECTION"))
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter(|l| l.contains("  P"))
            .count();
        assert!(sections > 0, "{label}: no sections in kmem -n:\n{n}");
        let p = kmem(d, "kmem -p");
        let pages = p.lines().count() - 1;
        assert_eq!(pages, sections * 32768, "{label}: kmem -p lines vs {sections} sections");
        let spanned: u64 = n
            .lines()
            .skip_while(|l| !l.starts_with("ZONE  NAME"))
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
            .sum();
        assert!(
            spanned <= pages as u64 && spanned > info["TOTAL MEM"],
            "{label}: zones span {spanned} of {pages} pages"
        );
        // 6.10+ mark slabs with a page type, not PG_slab (which then has no bit).
        if krash_on(d, "p (int)PG_slab\n").stdout.trim().rsplit(' ').next().is_some_and(|v| v.parse::<u32>().is_ok()) {
            let slab_pages = p.lines().filter(|l| l.ends_with(" slab") || l.contains(" slab,")).count();
            assert!(slab_pages > 0, "{label}: no slab pages in kmem -p");
        }

        // -o: one offset per CPU; -g: the head bit decodes to PG_head.
        let cpus = kmem(d, "kmem -o").lines().filter(|l| l.trim_start().starts_with("CPU ")).count();
        assert!(cpus >= 1, "{label}");
        // The bit from the kernel's own `enum pageflags` (16 up to 6.1, 6 since).
        let head_bit: u32 = kmem(d, "p (int)PG_head")
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{label}: no PG_head value"));
        let g = kmem(d, &format!("kmem -g {:x}", 1u64 << head_bit));
        assert!(
            g.lines().any(|l| l.split_whitespace().next() == Some("PG_head") && l.contains(&format!(" {head_bit} "))),
            "{label}:\n{g}"
        );
    });
}
