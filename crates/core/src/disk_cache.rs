//! What krash computes from a large file and can always compute again, kept
//! on disk between sessions (today: the DWARF name index of a vmlinux, half
//! a second of both cores on every session that looks up a global).
//!
//! The directory is `$KRASH_CACHE_DIR`, else `$XDG_CACHE_HOME/krash`, else
//! `$HOME/.cache/krash`; `KRASH_CACHE_DIR=off` (or empty) keeps nothing.
//! An entry is only ever a copy of something krash can rebuild: one that
//! cannot be read, written or trusted is rebuilt, never an error. Writes go
//! to a temporary name first and are renamed into place, so two sessions
//! storing the same entry at once each leave a whole file. Each kind of
//! entry keeps its newest [`MAX_ENTRIES_PER_KIND`] files (an entry read is
//! made newest), so the directory does not grow with every kernel opened.

use std::path::PathBuf;
use std::time::SystemTime;

/// The environment variable naming the cache directory (`off`: none).
pub const CACHE_DIR_ENV: &str = "KRASH_CACHE_DIR";

/// Entries of one kind (one file-name prefix) kept at the most.
pub const MAX_ENTRIES_PER_KIND: usize = 16;

/// The cache directory, if krash may keep one.
pub fn dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV) {
        if dir.is_empty() || dir == "off" {
            return None;
        }
        return Some(PathBuf::from(dir));
    }
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(xdg).join("krash"));
    }
    std::env::var_os("HOME").filter(|d| !d.is_empty()).map(|home| PathBuf::from(home).join(".cache/krash"))
}

/// The running krash build (its executable's size and modification time):
/// part of every entry's key, so that a rebuilt krash, which may compute an
/// entry differently, never reads one an older build wrote.
pub fn program_identity() -> Option<String> {
    let meta = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    let modified = meta.modified().ok()?.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    Some(format!("{} bytes, modified {}.{:09}", meta.len(), modified.as_secs(), modified.subsec_nanos()))
}

/// The bytes of entry `name` (a plain file name), if it is there; reading it
/// makes it the newest of its kind.
pub fn read(name: &str) -> Option<Vec<u8>> {
    let path = dir()?.join(name);
    let bytes = std::fs::read(&path).ok()?;
    if let Ok(file) = std::fs::File::options().write(true).open(&path) {
        let _ = file.set_modified(SystemTime::now());
    }
    Some(bytes)
}

/// Stores entry `name` (a plain file name starting with `kind`), then drops
/// the oldest entries of `kind` beyond [`MAX_ENTRIES_PER_KIND`]. Failures
/// are ignored: the entry is rebuilt next time.
pub fn write(kind: &str, name: &str, bytes: &[u8]) {
    let Some(dir) = dir() else { return };
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    // Unique to this write: two sessions, or two threads of one process
    // (`analyze --batch`), may store the same entry at once.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nth = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{nth}.tmp", std::process::id()));
    if std::fs::write(&tmp, bytes).is_err() || std::fs::rename(&tmp, dir.join(name)).is_err() {
        let _ = std::fs::remove_file(&tmp);
        return;
    }
    prune(&dir, kind);
}

fn prune(dir: &std::path::Path, kind: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut mine: Vec<(SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(kind)))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if mine.len() <= MAX_ENTRIES_PER_KIND {
        return;
    }
    mine.sort_unstable_by_key(|entry| std::cmp::Reverse(entry.0));
    for (_, old) in mine.into_iter().skip(MAX_ENTRIES_PER_KIND) {
        let _ = std::fs::remove_file(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the directory comes from the process environment.
    #[test]
    fn entries_round_trip_and_each_kind_keeps_its_newest() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        std::env::set_var(CACHE_DIR_ENV, &cache);
        assert_eq!(dir(), Some(cache.clone()));
        assert_eq!(read("kind-a"), None);
        write("kind-", "kind-a", b"first");
        assert_eq!(read("kind-a").as_deref(), Some(&b"first"[..]));
        write("kind-", "kind-a", b"second");
        assert_eq!(read("kind-a").as_deref(), Some(&b"second"[..]));

        write("other-", "other-x", b"x");
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options().write(true).open(cache.join("kind-a")).unwrap().set_modified(old).unwrap();
        for i in 0..MAX_ENTRIES_PER_KIND {
            write("kind-", &format!("kind-{i}"), b"n");
        }
        assert_eq!(read("kind-a"), None, "the oldest entry of the kind is dropped");
        assert!(read("kind-0").is_some());
        assert_eq!(read("other-x").as_deref(), Some(&b"x"[..]), "other kinds are kept");
        let leftovers: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());

        std::env::set_var(CACHE_DIR_ENV, "off");
        assert_eq!(dir(), None);
        write("kind-", "kind-new", b"n");
        assert_eq!(read("kind-new"), None);
        std::env::remove_var(CACHE_DIR_ENV);
    }
}
