//! Who to call about a crash: the kernel's MAINTAINERS file read as the
//! kernel's own `scripts/get_maintainer.pl` reads it, so the subsystem named
//! for a source file is the one that script puts first.
//!
//! A section is a name line followed by `X: value` entries. A file belongs
//! to a section when one of its `F:` patterns matches the path (a pattern
//! ending in `/` covers the directory and everything below it; any other
//! pattern matches as a prefix, `*` and `?` as wildcards, and only at the
//! same depth) or its `N:` regex matches, unless an `X:` pattern excludes it.
//! The most specific section wins: the one whose matching pattern is
//! deepest (get_maintainer's "pattern depth"), the file order breaking ties.
//!
//! Written here rather than taken from a crate: no crate parses MAINTAINERS.

use std::path::Path;

use krash_program::Kernel;
use regex::{Regex, RegexBuilder};

use crate::Report;

/// One MAINTAINERS section, with what a caller needs to reach its people.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    /// `S:` (Supported, Maintained, Odd Fixes, Orphan, ...).
    pub status: Option<String>,
    /// `M:` entries.
    pub maintainers: Vec<String>,
    /// `R:` entries.
    pub reviewers: Vec<String>,
    /// `L:` entries, as written (`list@host (moderated for non-subscribers)`).
    pub lists: Vec<String>,
    /// `F:` and `N:` entries in file order (the last match sets the depth).
    matchers: Vec<Matcher>,
    /// `X:` entries.
    excluded: Vec<String>,
}

#[derive(Debug, Clone)]
enum Matcher {
    File(String),
    Name(Regex),
}

/// A parsed MAINTAINERS file.
#[derive(Debug, Clone)]
pub struct Maintainers {
    sections: Vec<Section>,
}

/// The sections a source file belongs to, most specific first.
#[derive(Debug, Clone)]
pub struct Ownership<'a> {
    /// The kernel-relative path that was looked up.
    pub file: String,
    pub sections: Vec<&'a Section>,
}

/// Top-level directories of a kernel tree: a build path is cut at the first
/// of them to get the path MAINTAINERS names.
const TREE_ROOTS: &[&str] = &[
    "arch", "block", "certs", "crypto", "drivers", "fs", "include", "init", "io_uring", "ipc", "kernel", "lib", "mm",
    "net", "rust", "samples", "security", "sound", "virt",
];

/// Largest compiled `N:` regex (real ones are a few words).
const NAME_REGEX_SIZE: usize = 1 << 16;

impl Maintainers {
    /// Reads and parses the file at `path`.
    pub fn read(path: &Path) -> std::io::Result<Maintainers> {
        Ok(Maintainers::parse(&std::fs::read_to_string(path)?))
    }

    /// Parses MAINTAINERS text: a section is a line without a tag followed
    /// by `X:\tvalue` lines, up to a blank line. The preamble's examples
    /// are indented, so its headings have no tagged lines and are dropped.
    /// An `N:` regex that does not compile is skipped.
    pub fn parse(text: &str) -> Maintainers {
        let mut sections: Vec<Section> = Vec::new();
        let mut current: Option<Section> = None;
        let mut close = |current: &mut Option<Section>| {
            if let Some(s) = current.take() {
                let tagged =
                    s.status.is_some() || !(s.maintainers.is_empty() && s.lists.is_empty() && s.matchers.is_empty());
                if tagged {
                    sections.push(s);
                }
            }
        };
        for line in text.lines() {
            match tag_of(line) {
                Some((tag, value)) => {
                    let Some(s) = current.as_mut() else { continue };
                    let value = value.to_string();
                    match tag {
                        'M' => s.maintainers.push(value),
                        'R' => s.reviewers.push(value),
                        'L' => s.lists.push(value),
                        'S' => s.status = Some(value),
                        'F' => s.matchers.push(Matcher::File(value)),
                        'X' => s.excluded.push(value),
                        'N' => {
                            // get_maintainer matches them with Perl's /x.
                            let re =
                                RegexBuilder::new(&value).ignore_whitespace(true).size_limit(NAME_REGEX_SIZE).build();
                            if let Ok(re) = re {
                                s.matchers.push(Matcher::Name(re));
                            }
                        }
                        _ => {}
                    }
                }
                None if line.trim().is_empty() => close(&mut current),
                None => {
                    close(&mut current);
                    current = Some(Section {
                        name: line.trim().to_string(),
                        status: None,
                        maintainers: Vec::new(),
                        reviewers: Vec::new(),
                        lists: Vec::new(),
                        matchers: Vec::new(),
                        excluded: Vec::new(),
                    });
                }
            }
        }
        close(&mut current);
        Maintainers { sections }
    }

    /// How many sections were read.
    pub fn len(&self) -> usize {
        self.sections.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// The sections `source` (a build path or a kernel-relative path)
    /// belongs to, most specific first; `None` when the path is not in a
    /// kernel tree.
    pub fn owners_of(&self, source: &str) -> Option<Ownership<'_>> {
        let file = tree_relative(source)?;
        // (depth of the section's last matching pattern, section index)
        let mut hits: Vec<(i64, usize)> = Vec::new();
        for (i, s) in self.sections.iter().enumerate() {
            if s.excluded.iter().any(|x| pattern_depth_if_matches(&file, x).is_some()) {
                continue;
            }
            let depth = s.matchers.iter().fold(None, |depth, m| match m {
                Matcher::File(f) => pattern_depth_if_matches(&file, f).or(depth),
                Matcher::Name(re) if re.is_match(&file) => Some(0),
                Matcher::Name(_) => depth,
            });
            if let Some(depth) = depth {
                hits.push((depth, i));
            }
        }
        // Deeper patterns first; file order among equals (a stable sort).
        hits.sort_by_key(|(depth, i)| (std::cmp::Reverse(*depth), *i));
        Some(Ownership { file, sections: hits.into_iter().filter_map(|(_, i)| self.sections.get(i)).collect() })
    }
}

/// Who to call about a crash: WinDbg's `!analyze` "followup", from the
/// kernel's own MAINTAINERS or the module's taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The guilty function's source file and the most specific section
    /// that covers it.
    Subsystem {
        function: String,
        file: String,
        section: String,
        status: Option<String>,
        maintainers: Vec<String>,
        reviewers: Vec<String>,
        lists: Vec<String>,
        /// The broader sections that cover the file too, most specific first.
        broader: Vec<String>,
    },
    /// The guilty function is in a module with no kernel-tree source (an
    /// out-of-tree module's vendor is who to call).
    Module { function: String, module: String, taint: Option<String>, out_of_tree: bool },
    /// Why no owner could be named.
    Unknown { function: Option<String>, why: String },
}

/// The owner of the crash `report` explains: its guilty function is the
/// first of its top frames that is not a signature prefix frame (or the
/// faulting function), looked up in
/// `maintainers` by the function's source file.
pub fn crash_owner(k: &Kernel, report: &Report, maintainers: Option<&Maintainers>) -> Owner {
    // Socorro's culprit: the first frame that is not a prefix frame (the bug
    // is rarely in memcpy or the allocator that tripped over it).
    let rules = crate::signature::rules();
    let culprit = report.top_frames.iter().find(|f| !rules.is_prefix(f)).or(report.top_frames.first());
    let Some(function) = culprit.or(report.faulting_function.as_ref()).cloned() else {
        return Owner::Unknown { function: None, why: "no guilty function: the backtrace has none".into() };
    };
    let Some(symbol) = k.lookup_symbol(&function) else {
        return Owner::Unknown { function: Some(function.clone()), why: format!("{function}: no such symbol") };
    };
    let file = k.source_line(symbol.addr).map(|l| l.file.to_string());
    let in_tree = file.as_deref().and_then(tree_relative);
    if let (Some(module), None) = (&symbol.module, &in_tree) {
        let taint = k.module_by_name(module).ok().map(|m| m.taint_letters());
        let out_of_tree = taint.as_deref().is_some_and(|t| t.contains('O'));
        return Owner::Module { function, module: module.clone(), taint, out_of_tree };
    }
    let Some(file) = file else {
        return Owner::Unknown {
            function: Some(function.clone()),
            why: format!("{function}: no DWARF line information, so no source file (give the vmlinux with debuginfo)"),
        };
    };
    let Some(maintainers) = maintainers else {
        return Owner::Unknown {
            function: Some(function),
            why: format!("{file}: no MAINTAINERS file (give --maintainers FILE, from the kernel's source tree)"),
        };
    };
    match maintainers.owners_of(&file) {
        Some(o) if !o.sections.is_empty() => {
            let first = o.sections[0];
            Owner::Subsystem {
                function,
                file: o.file.clone(),
                section: first.name.clone(),
                status: first.status.clone(),
                maintainers: first.maintainers.clone(),
                reviewers: first.reviewers.clone(),
                lists: first.lists.clone(),
                broader: o.sections[1..].iter().map(|s| s.name.clone()).collect(),
            }
        }
        _ => Owner::Unknown { function: Some(function), why: format!("{file}: no MAINTAINERS section covers it") },
    }
}

/// Where a kernel's MAINTAINERS usually is, most likely first: `$KRASH_MAINTAINERS`,
/// Debian's unpacked `linux-source-M.m`, a source tree named for the release,
/// and the source or build tree its modules directory links to.
pub fn maintainers_candidates(release: &str) -> Vec<std::path::PathBuf> {
    let mut out: Vec<std::path::PathBuf> = std::env::var_os("KRASH_MAINTAINERS").map(Into::into).into_iter().collect();
    let mut numbers = release.split(|c: char| !c.is_ascii_digit());
    if let (Some(major), Some(minor)) = (numbers.next(), numbers.next()) {
        out.push(format!("/usr/src/linux-source-{major}.{minor}/MAINTAINERS").into());
    }
    for dir in [
        format!("/usr/src/linux-{release}"),
        format!("/lib/modules/{release}/source"),
        format!("/lib/modules/{release}/build"),
    ] {
        out.push(Path::new(&dir).join("MAINTAINERS"));
    }
    out
}

/// Fills `report.owner`: from `maintainers` when given, else from the
/// first MAINTAINERS found where a kernel's sources usually are. A file
/// that cannot be read is said in the owner's reason.
pub fn attach_owner(k: &Kernel, report: &mut Report, maintainers: Option<&Path>, release: &str) {
    let path = match maintainers {
        Some(p) => Some(p.to_path_buf()),
        None => maintainers_candidates(release).into_iter().find(|p| p.is_file()),
    };
    let parsed = match &path {
        Some(p) => match Maintainers::read(p) {
            Ok(m) if !m.is_empty() => Some(m),
            Ok(_) => {
                report.owner = Some(Owner::Unknown {
                    function: None,
                    why: format!("{}: no MAINTAINERS sections in it", p.display()),
                });
                return;
            }
            Err(e) => {
                report.owner = Some(Owner::Unknown { function: None, why: format!("{}: {e}", p.display()) });
                return;
            }
        },
        None => None,
    };
    report.owner = Some(crash_owner(k, report, parsed.as_ref()));
}

/// `X:\tvalue` lines: one uppercase letter, a colon, whitespace.
fn tag_of(line: &str) -> Option<(char, &str)> {
    let mut chars = line.chars();
    let tag = chars.next()?;
    if !tag.is_ascii_uppercase() || chars.next()? != ':' {
        return None;
    }
    let value = &line[2..];
    if !value.starts_with([' ', '\t']) {
        return None;
    }
    Some((tag, value.trim()))
}

/// The path MAINTAINERS would name for a source path from debuginfo: cut
/// at the first top-level directory of a kernel tree.
pub fn tree_relative(source: &str) -> Option<String> {
    let parts: Vec<&str> = source.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let start = parts.iter().position(|p| TREE_ROOTS.contains(p))?;
    // The file itself must be below the root directory.
    (parts.len() > start + 1).then(|| parts[start..].join("/"))
}

/// When an `F:`/`X:` pattern covers `file`, get_maintainer's depth of
/// the pattern: its slashes, one more for a file pattern, -1 for one that
/// starts with a wildcard (THE REST's `*`). A directory pattern (trailing
/// `/`) covers everything below it; any other pattern matches a prefix of
/// the path with as many slashes, or names a directory the file is in
/// (get_maintainer adds the slash when its tree has that directory).
fn pattern_depth_if_matches(file: &str, pattern: &str) -> Option<i64> {
    let slashes = pattern.matches('/').count() as i64;
    let depth = if pattern.starts_with('*') {
        -1
    } else if pattern.ends_with('/') {
        slashes
    } else {
        slashes + 1
    };
    if pattern.ends_with('/') {
        return glob_prefix(file, pattern).map(|_| depth);
    }
    if glob_prefix(file, pattern).is_some() && file.matches('/').count() as i64 == slashes {
        return Some(depth);
    }
    let is_dir = !pattern.contains(['*', '?']) && file.strip_prefix(pattern).is_some_and(|rest| rest.starts_with('/'));
    is_dir.then_some(if depth < 0 { depth } else { slashes + 1 })
}

/// Matches `pattern` (`*` any run of characters, `?` any one) against a
/// prefix of `text`; the length of the shortest matching prefix.
fn glob_prefix(text: &str, pattern: &str) -> Option<usize> {
    let (t, p) = (text.as_bytes(), pattern.as_bytes());
    // Iterative wildcard matching with backtracking to the last `*`, which
    // is linear in practice and never recursive (patterns are user data).
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi == p.len() {
            return Some(ti);
        }
        match p[pi] {
            b'*' => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            c if ti < t.len() && (c == b'?' || c == t[ti]) => {
                ti += 1;
                pi += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, st)) if st < t.len() => {
                star = Some((sp, st + 1));
                pi = sp + 1;
                ti = st + 1;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
List of maintainers and how to submit kernel changes
====================================================

Descriptions of section entries and preferred order
---------------------------------------------------

\tF: *Files* and directories wildcard patterns.
\t   F:\tdrivers/net/\tall files in and below drivers/net

Maintainers List
----------------

3C59X NETWORK DRIVER
M:\tSteffen Klassert <klassert@kernel.org>
L:\tnetdev@vger.kernel.org
S:\tOdd Fixes
F:\tdrivers/net/ethernet/3com/3c59x.c

MEMORY MANAGEMENT
M:\tAndrew Morton <akpm@linux-foundation.org>
L:\tlinux-mm@kvack.org
S:\tMaintained
F:\tinclude/linux/mm.h
F:\tmm/
X:\tmm/excluded.c

SLAB ALLOCATOR
M:\tVlastimil Babka <vbabka@suse.cz>
R:\tRoman Gushchin <roman.gushchin@linux.dev>
L:\tlinux-mm@kvack.org
S:\tMaintained
F:\tinclude/linux/sl?b*.h
F:\tmm/sl?b*

ARM/OWL
N:\towl

THE REST
M:\tLinus Torvalds <torvalds@linux-foundation.org>
L:\tlinux-kernel@vger.kernel.org
S:\tBuried alive in reporters
F:\t*
F:\t*/
";

    fn names<'a>(o: &Ownership<'a>) -> Vec<&'a str> {
        o.sections.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn most_specific_section_first() {
        let m = Maintainers::parse(SAMPLE);
        assert_eq!(m.len(), 5);
        let o = m.owners_of("/build/reproducible-path/linux-6.1.192/mm/slub.c").unwrap();
        assert_eq!(o.file, "mm/slub.c");
        assert_eq!(names(&o), ["SLAB ALLOCATOR", "MEMORY MANAGEMENT", "THE REST"]);
        let slab = o.sections[0];
        assert_eq!(slab.status.as_deref(), Some("Maintained"));
        assert_eq!(slab.reviewers, ["Roman Gushchin <roman.gushchin@linux.dev>"]);
        // A file below the directory, not at the pattern's depth.
        assert_eq!(names(&m.owners_of("mm/kasan/common.c").unwrap()), ["MEMORY MANAGEMENT", "THE REST"]);
        // Excluded from one section, still in the others.
        assert_eq!(names(&m.owners_of("mm/excluded.c").unwrap()), ["THE REST"]);
        // A directory pattern without its slash still covers the files below.
        assert_eq!(names(&m.owners_of("include/linux/slab.h").unwrap())[0], "SLAB ALLOCATOR");
        // N: regexes match anywhere in the path.
        assert!(names(&m.owners_of("drivers/pinctrl/actions/pinctrl-owl.c").unwrap()).contains(&"ARM/OWL"));
    }

    #[test]
    fn paths_outside_a_tree_and_odd_patterns() {
        let m = Maintainers::parse(SAMPLE);
        assert!(m.owners_of("/var/cache/build/module-1/krash_scenarios.c").is_none());
        assert!(m.owners_of("mm").is_none());
        assert_eq!(glob_prefix("mm/slub.c", "mm/sl?b*"), Some(7));
        assert_eq!(glob_prefix("abc", "a*c"), Some(3));
        assert_eq!(glob_prefix("ab", "a*c"), None);
        assert_eq!(glob_prefix(&"a".repeat(10_000), &"*a".repeat(50)), Some(50));
        // Garbage parses to nothing rather than failing.
        assert!(Maintainers::parse("\u{0}\n:\nF:\n\tX\n").is_empty());
    }
}
