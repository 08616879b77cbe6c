//! SLUB freelists: a chain of free objects, each holding the next one's
//! address at `cache.offset`. Under CONFIG_SLAB_FREELIST_HARDENED the stored
//! word is `next ^ s->random ^ swab(address of the word)` (the same formula
//! on 6.1 and 6.12); the chain heads (`kmem_cache_cpu.freelist`,
//! `slab.freelist`) hold plain pointers.
//!
//! Every pointer is checked before it is followed: it must be the start of
//! an object of the same slab, not yet seen. A pointer that is not is a
//! [`FreelistProblem`] naming where it was stored, its raw and decoded
//! values and what the raw bytes look like, so a use-after-free that wrote
//! text over a freed object is recognisable at once.

use std::collections::{HashMap, HashSet};

use crate::mm::slab::SlabExt;
use krash_arch::PageTableFormat;
use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use super::looks::{self, ValueLooks};
use super::{object_index, read_slab_bytes, u64_at, ArrayCacheHolder, Slab, SlabCache};
use krash_program::Kernel;

/// Which freelist a problem was found on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FreelistOwner {
    /// The lockless per-cpu freelist of the cpu slab.
    Cpu { cpu: u32, kmem_cache_cpu: u64 },
    /// `slab->freelist`.
    Slab,
}

/// Why a freelist pointer cannot be followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemReason {
    NonCanonical,
    OutsideSlab,
    /// Inside the slab but not at an object's start.
    Misaligned,
    /// An object already on a freelist: the chain loops or two chains share it.
    Duplicate,
}

impl std::fmt::Display for ProblemReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProblemReason::NonCanonical => "non-canonical address",
            ProblemReason::OutsideSlab => "points outside the slab",
            ProblemReason::Misaligned => "not the start of an object",
            ProblemReason::Duplicate => "object already on a freelist (cycle)",
        })
    }
}

/// A freelist pointer that does not lead to a free object of its slab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FreelistProblem {
    pub cache: String,
    pub slab: u64,
    pub owner: FreelistOwner,
    /// Address of the word holding the bad pointer.
    pub stored_at: u64,
    /// The bytes at `stored_at` (encoded when stored in an object).
    pub raw: u64,
    /// The pointer after decoding.
    pub decoded: u64,
    pub reason: ProblemReason,
    /// What `raw` looks like.
    pub looks_like: ValueLooks,
    /// For a bad chain head: the free object whose free pointer was decoded
    /// into it (found by re-encoding the head for every object).
    pub source_object: Option<u64>,
    /// The source object's free pointer no longer holds the value (the
    /// object was handed out and overwritten since); the raw value was
    /// inferred by re-encoding, and `witness` holds the same bytes.
    pub inferred: bool,
    /// Another place in the slab holding the same raw bytes (the pattern
    /// written over several freed objects).
    pub witness: Option<u64>,
    /// Text found in the object holding the bad word (or the witness), if any.
    pub object_text: Option<String>,
}

/// Objects of one slab, free or allocated, from both of its freelists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlabContents {
    pub slab: Slab,
    /// The CPU whose cpu slab this is.
    pub cpu: Option<u32>,
    /// `free[i]`: object i is on a freelist.
    pub free: Vec<bool>,
    /// SLAB: objects (by index) freed into an array cache, and whose.
    pub array_cached: Vec<(u32, ArrayCacheHolder)>,
    /// ALLOCATED as crash's slab line shows it.
    pub allocated: u32,
    pub problems: Vec<FreelistProblem>,
}

/// Where a bad chain head came from.
struct Source {
    object: u64,
    word_at: u64,
    word: u64,
    inferred: bool,
    witness: Option<u64>,
}

/// The result of walking one chain.
pub(crate) struct ChainWalk {
    pub count: u64,
    pub problems: Vec<FreelistProblem>,
}

/// One slab's memory plus the cache parameters a walk needs.
struct SlabView<'a> {
    cache: &'a SlabCache,
    slab: &'a Slab,
    bytes: Vec<u8>,
    /// Which addresses are canonical.
    paging: &'static PageTableFormat,
}

impl SlabView<'_> {
    fn decode(&self, raw: u64, stored_at: u64) -> u64 {
        raw ^ self.cache.random ^ if self.cache.random != 0 { stored_at.swap_bytes() } else { 0 }
    }

    fn word_at(&self, addr: u64) -> Option<u64> {
        u64_at(&self.bytes, addr.checked_sub(self.slab.base)?)
    }

    /// The object index `p` starts, or why it is not an object start.
    fn check(&self, p: u64) -> std::result::Result<u32, ProblemReason> {
        if !looks::is_canonical(p, self.paging) {
            return Err(ProblemReason::NonCanonical);
        }
        let index = object_index(self.cache, self.slab, p).ok_or(ProblemReason::OutsideSlab)?;
        if p < self.slab.base || super::object_start(self.cache, self.slab, index) != p {
            return Err(ProblemReason::Misaligned);
        }
        Ok(index)
    }

    /// Text of the object holding `addr`, for the report.
    fn text_around(&self, addr: u64) -> Option<String> {
        let index = object_index(self.cache, self.slab, addr)?;
        let start = u64::from(index) * u64::from(self.cache.size);
        let end = start + u64::from(self.cache.size);
        looks::object_text(self.bytes.get(start as usize..end as usize)?)
    }

    /// Walks the chain starting at `head` (stored at `head_at`), marking
    /// free objects; stops at NULL or the first bad pointer.
    fn walk(&self, head: u64, head_at: u64, owner: FreelistOwner, free: &mut [bool]) -> ChainWalk {
        let mut out = ChainWalk { count: 0, problems: Vec::new() };
        let (mut p, mut stored_at, mut raw) = (head, head_at, head);
        for _ in 0..=self.slab.objects {
            if p == 0 {
                break;
            }
            let reason = match self.check(p) {
                Ok(i) if free.get(i as usize).copied().unwrap_or(true) => Some(ProblemReason::Duplicate),
                Ok(_) => None,
                Err(r) => Some(r),
            };
            if let Some(reason) = reason {
                out.problems.push(self.problem(owner, stored_at, raw, p, reason, stored_at == head_at));
                break;
            }
            if let Ok(i) = self.check(p) {
                if let Some(slot) = free.get_mut(i as usize) {
                    *slot = true;
                }
            }
            out.count += 1;
            stored_at = p.wrapping_add(u64::from(self.cache.offset));
            let Some(word) = self.word_at(stored_at) else { break };
            raw = word;
            p = self.decode(word, stored_at);
        }
        out
    }

    fn problem(
        &self,
        owner: FreelistOwner,
        stored_at: u64,
        raw: u64,
        decoded: u64,
        reason: ProblemReason,
        at_head: bool,
    ) -> FreelistProblem {
        // A chain head holds a decoded pointer: find the object whose
        // stored free pointer decodes to it, and report that word instead.
        let source = if at_head { self.source_of(decoded) } else { None };
        let witness = source.as_ref().and_then(|s| s.witness);
        let (shown_raw, text) = match &source {
            Some(s) => (s.word, self.text_around(witness.unwrap_or(s.word_at))),
            None => (raw, self.text_around(stored_at)),
        };
        FreelistProblem {
            cache: self.cache.name.clone(),
            slab: self.slab.addr,
            owner,
            stored_at,
            raw: shown_raw,
            decoded,
            reason,
            looks_like: looks::classify(shown_raw, self.paging),
            source_object: source.as_ref().map(|s| s.object),
            inferred: source.as_ref().is_some_and(|s| s.inferred),
            witness,
            object_text: text,
        }
    }

    /// The object whose free pointer decodes to `decoded`: one whose
    /// memory still holds it, else (the object was reallocated and
    /// cleared) the object whose re-encoded value looks like data, best one
    /// whose bytes also appear elsewhere in the slab.
    fn source_of(&self, decoded: u64) -> Option<Source> {
        let candidates = (0..self.slab.objects).map(|i| {
            let object = super::object_start(self.cache, self.slab, i);
            let word_at = object.wrapping_add(u64::from(self.cache.offset));
            let encoded = self.decode(decoded, word_at);
            (object, word_at, encoded)
        });
        let exact = candidates.clone().find(|&(_, at, enc)| self.word_at(at) == Some(enc));
        if let Some((object, word_at, word)) = exact {
            return Some(Source { object, word_at, word, inferred: false, witness: None });
        }
        // Without a hardening key every candidate re-encodes to the same
        // word: it is classified once, not once per object.
        let mut last: Option<(u64, bool)> = None;
        let data_like: Vec<(u64, u64, u64)> = candidates
            .filter(|&(_, _, word)| match last {
                Some((w, like)) if w == word => like,
                _ => {
                    let like = matches!(
                        looks::classify(word, self.paging),
                        ValueLooks::Utf16Text(_)
                            | ValueLooks::AsciiText(_)
                            | ValueLooks::SlabPoison(_)
                            | ValueLooks::ListPoison(_)
                    );
                    last = Some((word, like));
                    like
                }
            })
            .collect();
        let witnesses = self.find_words(data_like.iter().map(|&(_, _, word)| word));
        let mut best: Option<(u32, Source)> = None;
        for (object, word_at, word) in data_like {
            let witness = witnesses.get(&word).copied();
            let score = 1 + u32::from(witness.is_some());
            if best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((score, Source { object, word_at, word, inferred: true, witness }));
            }
        }
        best.map(|(_, s)| s)
    }

    /// The first 8-byte-aligned place in the slab holding each of `words`
    /// that the slab holds, in one pass over the slab (a search per word
    /// was quadratic: every object of a 4 MiB slab against every word).
    fn find_words(&self, words: impl Iterator<Item = u64>) -> HashMap<u64, u64> {
        let mut wanted: HashSet<u64> = words.collect();
        let mut found = HashMap::new();
        for (i, chunk) in self.bytes.chunks_exact(8).enumerate() {
            if wanted.is_empty() {
                break;
            }
            let word = chunk.try_into().map_or(0, u64::from_le_bytes);
            if wanted.remove(&word) {
                found.insert(word, self.slab.base.wrapping_add(i as u64 * 8));
            }
        }
        found
    }
}

/// Walks one freelist chain of `slab` (for counting).
pub(crate) fn walk_one(
    k: &Kernel,
    cache: &SlabCache,
    slab: &Slab,
    head: u64,
    owner: FreelistOwner,
) -> Result<ChainWalk> {
    if head == 0 {
        return Ok(ChainWalk { count: 0, problems: Vec::new() });
    }
    let view = SlabView { cache, slab, bytes: read_slab_bytes(k, cache, slab)?, paging: k.memory().layout().paging() };
    let mut free = vec![false; slab.objects as usize];
    Ok(view.walk(head, head_at(k, slab, owner), owner, &mut free))
}

fn head_at(k: &Kernel, slab: &Slab, owner: FreelistOwner) -> u64 {
    match owner {
        FreelistOwner::Cpu { kmem_cache_cpu, .. } => kmem_cache_cpu,
        FreelistOwner::Slab => k.slab_freelist_slot(slab.addr).unwrap_or(slab.addr),
    }
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait FreelistExt {
    /// Every object of `slab` with its state, from the slab's freelist and,
    /// for a cpu slab, that CPU's lockless freelist.
    fn slab_contents(&self, cache: &SlabCache, slab: &Slab) -> Result<SlabContents>;
}

impl FreelistExt for Kernel {
    fn slab_contents(&self, cache: &SlabCache, slab: &Slab) -> Result<SlabContents> {
        if self.slab_variants()?.allocator == super::Allocator::Slab {
            return classic_contents(self, cache, slab);
        }
        let view = SlabView {
            cache,
            slab,
            bytes: read_slab_bytes(self, cache, slab)?,
            paging: self.memory().layout().paging(),
        };
        let mut free = vec![false; slab.objects as usize];
        let mut problems = Vec::new();
        let slab_walk =
            view.walk(slab.freelist, head_at(self, slab, FreelistOwner::Slab), FreelistOwner::Slab, &mut free);
        problems.extend(slab_walk.problems);
        let mut cpu = None;
        let mut allocated = slab.inuse;
        for c in self.cache_cpu_slabs(cache)? {
            if c.slab != slab.addr {
                continue;
            }
            let owner = FreelistOwner::Cpu { cpu: c.cpu, kmem_cache_cpu: c.kmem_cache_cpu };
            let w = view.walk(c.freelist, c.kmem_cache_cpu, owner, &mut free);
            problems.extend(w.problems);
            let remote = if slab.freelist != 0 { slab.objects.saturating_sub(slab.inuse) } else { 0 };
            allocated = slab.objects.saturating_sub(w.count as u32 + remote);
            cpu = Some(c.cpu);
            break;
        }
        Ok(SlabContents { slab: *slab, cpu, free, array_cached: Vec::new(), allocated, problems })
    }
}

/// SLAB (the allocator): object `i` is free when its index is in the
/// slab's free-index array past `active`, or when an array cache holds it
/// (freed, but still counted active by the slab). An index beyond the slab
/// is reported, as a bad SLUB pointer is.
fn classic_contents(k: &Kernel, cache: &SlabCache, slab: &Slab) -> Result<SlabContents> {
    // `freelist_size / num`: a free index is one byte (slabs of at most 256
    // objects) or two; any other width is a corrupt kmem_cache, whose
    // index array could be read as hundreds of megabytes.
    if !matches!(cache.free_index_size, 1 | 2) {
        return Err(Error::bad_data(
            format!("kmem_cache {:x} ({})", cache.addr, cache.name),
            format!("{}-byte free indexes (freelist_size / num is neither 1 nor 2)", cache.free_index_size),
        ));
    }
    let objects = slab.objects as usize;
    let mut free = vec![false; objects];
    let mut problems = Vec::new();
    let active = slab.inuse.min(slab.objects);
    let width = u64::from(cache.free_index_size);
    let slots = u64::from(slab.objects - active);
    let bytes = k
        .memory()
        .read_vec(slab.freelist.wrapping_add(u64::from(active).wrapping_mul(width)), (slots * width) as usize)?;
    for (i, chunk) in bytes.chunks_exact(cache.free_index_size as usize).enumerate() {
        let index = match chunk {
            [b] => u64::from(*b),
            [lo, hi] => u64::from(u16::from_le_bytes([*lo, *hi])),
            _ => break,
        };
        let stored_at = slab.freelist.wrapping_add((u64::from(active) + i as u64).wrapping_mul(width));
        match free.get_mut(index as usize) {
            Some(slot) if !*slot => *slot = true,
            other => problems.push(FreelistProblem {
                cache: cache.name.clone(),
                slab: slab.addr,
                owner: FreelistOwner::Slab,
                stored_at,
                raw: index,
                decoded: index,
                reason: if other.is_some() { ProblemReason::Duplicate } else { ProblemReason::OutsideSlab },
                looks_like: looks::classify(index, k.memory().layout().paging()),
                source_object: None,
                inferred: false,
                witness: None,
                object_text: None,
            }),
        }
    }
    let mut array_cached = Vec::new();
    for ac in k.cache_array_caches(cache)? {
        for &addr in &ac.entries {
            if let Some(i) = object_index(cache, slab, addr) {
                if let Some(slot) = free.get_mut(i as usize) {
                    *slot = true;
                    array_cached.push((i, ac.holder));
                }
            }
        }
    }
    let allocated = slab.objects.saturating_sub(free.iter().filter(|&&f| f).count() as u32);
    Ok(SlabContents { slab: *slab, cpu: None, free, array_cached, allocated, problems })
}
