//! Read-only file mappings, shared. The vmlinux alone is read for its
//! symbols, BTF, ORC, CFI and DWARF by different layers; each asks for the
//! file by path and all get the one mapping that is alive, so a session
//! maps a file once however many readers it has. The only `unsafe` needed
//! to map a file lives here.
//!
//! Mappings are remembered weakly: when the last reader drops its handle
//! the file is unmapped. A file replaced on disk (another inode, size or
//! modification time) gets a new mapping.
//!
//! Every page of a mapping that a reader touches counts in the process's
//! resident set (RssFile) until the kernel drops it: walking a 16 GiB ELF
//! dump end to end would hold gigabytes. Readers of dump bytes say what they
//! read ([`MappedFile::note_read`]); past a budget, the mapping's page-table
//! entries are dropped, and the pages stay in the page cache for the next
//! access to map again.

use std::collections::HashMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::SystemTime;

use crate::{Error, Result};

/// A file mapped read-only; derefs to its bytes.
#[derive(Debug)]
pub struct MappedFile {
    map: memmap2::Mmap,
    path: PathBuf,
    /// The mapped file's identity, from the descriptor that was mapped.
    identity: Identity,
    /// Bytes noted read since the mapping was made (each read counted as
    /// what it maps: see [`MappedFile::note_read`]).
    touched: AtomicU64,
}

/// How much of a mapping is read between two drops of its resident pages.
const RESIDENT_BUDGET: u64 = 64 << 20;
/// What one read maps at the most beyond its own bytes: Linux's default
/// `fault_around_bytes` (a fault maps the cached pages of this aligned
/// window).
const FAULT_AROUND: u64 = 64 << 10;
/// How many of a thread's last windows a read in one of them is not counted
/// again for: at most this many windows' worth (1 MiB) of what is mapped
/// goes uncounted after a drop.
const RECENT_WINDOWS: usize = 16;
/// How much a thread reads before adding it to the mapping's count. The
/// count is of reads on any mapping (a thread may read two files), which
/// only makes the drops come a little early or late.
const COUNT_BATCH: u64 = 1 << 20;

impl MappedFile {
    /// The mapping of `path`, shared with every other live reader of it.
    pub fn open(path: &Path) -> Result<Arc<MappedFile>> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, &e))?;
        let key = Identity::of(&meta);
        let mut live = live_mappings().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        live.retain(|_, weak| weak.strong_count() > 0);
        if let Some(shared) = live.get(path).and_then(Weak::upgrade).filter(|shared| shared.identity == key) {
            return Ok(shared);
        }
        // SAFETY: the mapping is read-only and krash never writes the files
        // it maps. A file truncated or rewritten by someone else while it
        // is mapped can fault or change under us, as for gdb or crash; its
        // bytes are parsed as untrusted input either way.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, &e))?;
        let shared = Arc::new(MappedFile { map, path: path.to_path_buf(), identity: key, touched: AtomicU64::new(0) });
        live.insert(path.to_path_buf(), Arc::downgrade(&shared));
        Ok(shared)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What tells the mapped version of the file from any other at its
    /// path (size, modification time, device and inode), for keying what
    /// is computed from it ([`crate::disk_cache`]).
    pub fn identity(&self) -> String {
        let modified = self.identity.modified.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok());
        #[cfg(unix)]
        let inode = self.identity.inode;
        #[cfg(not(unix))]
        let inode = (0u64, 0u64);
        format!(
            "size {} modified {} device {} inode {}",
            self.identity.len,
            modified.map_or_else(|| "unknown".to_string(), |d| format!("{}.{:09}", d.as_secs(), d.subsec_nanos())),
            inode.0,
            inode.1
        )
    }

    /// Notes that `len` bytes at `offset` of the mapping were just read.
    /// Each time the reads add up to another [`RESIDENT_BUDGET`], the
    /// mapping's resident pages are dropped: the process's RssFile stays near
    /// the budget however much of the file a command walks.
    ///
    /// A read maps the kernel's fault-around window (up to [`FAULT_AROUND`]
    /// of page-cache pages around the faulting one), so a read counts that
    /// much, and nothing more while the same thread reads in one of the
    /// [`RECENT_WINDOWS`] windows it read last: a walker reads one struct's
    /// fields one by one, and goes back and forth between a few structures
    /// (a task, its `files_struct`, its fd table; a cache, a slab's `struct
    /// slab`, its objects). Counting each field as a page dropped the
    /// mapping a dozen times in one `ps` of 20 000 tasks, and counting each
    /// return to a structure as a new window 84 times (each drop costs the
    /// zap and every page's fault again).
    pub fn note_read(&self, offset: u64, len: usize) {
        thread_local! {
            // Reads are counted per thread and added to the mapping's count
            // a batch at a time: one shared counter bumped by every read of
            // every thread would bounce its cache line between the cores.
            static UNCOUNTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
            // The windows of this thread's last reads (u64::MAX: none yet),
            // replaced oldest first.
            static RECENT: std::cell::Cell<([u64; RECENT_WINDOWS], usize)> =
                const { std::cell::Cell::new(([u64::MAX; RECENT_WINDOWS], 0)) };
        }
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        let window = offset / FAULT_AROUND;
        let last_window = offset.saturating_add(len.saturating_sub(1)) / FAULT_AROUND;
        // A read over two windows or more always counts, and is remembered
        // by its last window.
        let repeat = RECENT.with(|recent| {
            let (mut windows, next) = recent.get();
            if window == last_window && windows.contains(&window) {
                return true;
            }
            windows[next % RECENT_WINDOWS] = last_window;
            recent.set((windows, (next + 1) % RECENT_WINDOWS));
            false
        });
        if repeat {
            return;
        }
        let footprint = len.max(FAULT_AROUND);
        let batch = UNCOUNTED.with(|pending| {
            let total = pending.get().saturating_add(footprint);
            let flush = total >= COUNT_BATCH;
            pending.set(if flush { 0 } else { total });
            flush.then_some(total)
        });
        let Some(batch) = batch else { return };
        let before = self.touched.fetch_add(batch, Ordering::Relaxed);
        if before / RESIDENT_BUDGET != before.wrapping_add(batch) / RESIDENT_BUDGET {
            self.drop_resident_pages();
        }
    }

    fn drop_resident_pages(&self) {
        // SAFETY: the mapping is shared and read-only (krash never writes it),
        // so MADV_DONTNEED only drops its page-table entries: the next access
        // to any byte, through a slice handed out before or after, maps the
        // same file bytes again from the page cache. A failure only means the
        // pages stay resident.
        let _ = unsafe { self.map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
    }
}

impl Deref for MappedFile {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl AsRef<[u8]> for MappedFile {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

/// What tells one version of a file from another at the same path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        Identity {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            inode: {
                use std::os::unix::fs::MetadataExt;
                (meta.dev(), meta.ino())
            },
        }
    }
}

type LiveMappings = Mutex<HashMap<PathBuf, Weak<MappedFile>>>;

fn live_mappings() -> &'static LiveMappings {
    static LIVE: OnceLock<LiveMappings> = OnceLock::new();
    LIVE.get_or_init(Default::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_of_one_file_share_one_mapping_until_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vmlinux");
        std::fs::write(&path, b"\x7fELF one").unwrap();
        let a = MappedFile::open(&path).unwrap();
        let b = MappedFile::open(&path).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&a[..], b"\x7fELF one");
        // Replaced on disk: a new file (new inode), so a new mapping.
        let replacement = dir.path().join("new");
        std::fs::write(&replacement, b"\x7fELF two!").unwrap();
        std::fs::rename(&replacement, &path).unwrap();
        let c = MappedFile::open(&path).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&c[..], b"\x7fELF two!");
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let err = MappedFile::open(Path::new("/nonexistent/krash-vmlinux")).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/krash-vmlinux"), "{err}");
    }

    #[test]
    fn reads_count_their_fault_around_window_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dump");
        std::fs::write(&path, vec![0u8; 4 << 20]).unwrap();
        let file = MappedFile::open(&path).unwrap();
        // A thread of its own: the pending count is per thread.
        std::thread::scope(|scope| {
            scope.spawn(|| {
                // Sixteen windows, each read field by field: sixteen windows'
                // worth, one batch, counted.
                for window in 0..16u64 {
                    for field in 0..50u64 {
                        file.note_read(window * FAULT_AROUND + field * 8, 8);
                    }
                }
                assert_eq!(file.touched.load(Ordering::Relaxed), 16 * FAULT_AROUND);
                // A read straddling two windows is never a repeat.
                for _ in 0..16 {
                    file.note_read(FAULT_AROUND - 4, 8);
                }
                assert_eq!(file.touched.load(Ordering::Relaxed), 32 * FAULT_AROUND);
                // Going back and forth between a few windows (a struct, the
                // one it points to, their objects) counts each once...
                for _ in 0..1000 {
                    for window in [100u64, 200, 300, 400] {
                        file.note_read(window * FAULT_AROUND + 64, 8);
                    }
                }
                // ...so no batch was added: four windows are pending.
                assert_eq!(file.touched.load(Ordering::Relaxed), 32 * FAULT_AROUND);
                // A walk over new windows counts every one of them.
                for window in 1000..1012u64 {
                    file.note_read(window * FAULT_AROUND, 8);
                }
                assert_eq!(file.touched.load(Ordering::Relaxed), 48 * FAULT_AROUND);
            });
        });
    }
}
