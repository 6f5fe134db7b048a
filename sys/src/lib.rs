//! The workspace's only unsafe code, each piece behind a safe interface:
//!
//! - [`Mimalloc`], the global allocator of `nudge` (and of the runtime's
//!   benches);
//! - [`prefetch`], a hint that starts loading memory the caller will read
//!   soon.
//!
//! ## The allocator
//!
//! mimalloc, as the `mimalloc` crate's `MiMalloc` is, except that a request
//! whose alignment every mimalloc block already has goes through
//! `mi_malloc`, not `mi_malloc_aligned`.
//!
//! Why: Rust gives every allocation an alignment, and `MiMalloc` passes it
//! to mimalloc's aligned API for all of them. In mimalloc 3 that API takes a
//! fast path only while the size's page has a free block; when the page is
//! empty it falls to a generic path that, for a size whose block is not a
//! power of two (24, 40, 48 bytes...), over-allocates a larger block instead
//! of refilling the page. On a 200,000-event `nudge simulate`, 518,401 of
//! 3,110,302 allocations took that path at about 227 instructions each
//! (cachegrind), and the over-allocated blocks are larger than asked. The
//! `mimalloc` crate has an open request to do what this crate does
//! (purpleprotocol/mimalloc_rust#170).
//!
//! When plain is safe: every mimalloc block size is a multiple of the word
//! size and every page's first block is at least 16-aligned, so every block
//! `mi_malloc` returns is word-aligned. A request for at most word
//! alignment therefore takes the plain calls; larger alignments keep the
//! aligned ones. The tests check the alignment of every size class up to
//! 4 KiB, and of large blocks.
//!
//! ## The prefetch hint
//!
//! `nudge simulate` spends most of its engine time waiting for memory: each
//! input and each timer touches a profile nobody touched for a while, and
//! the profile's blocks (traits, seen ids, journeys) one after another. The
//! simulator reads inputs ahead and asks for the next ones' profiles early
//! (`runtime/src/sim/mod.rs`); the engine does the same for the next timer.
//! A prefetch cannot fault and changes nothing the program computes.
//!
//! A `GlobalAlloc` and a prefetch cannot be written without unsafe code;
//! each block below says why it is sound.

#![allow(unsafe_code)]

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The largest alignment every block `mi_malloc` returns has.
const PLAIN_ALIGN: usize = std::mem::size_of::<usize>();

/// mimalloc, without the aligned API where it is not needed (see the crate
/// documentation).
pub struct Mimalloc;

// SAFETY: every method hands mimalloc's own blocks out and back: `alloc`,
// `alloc_zeroed` and `realloc` return a block at least `layout.size()` long
// aligned to `layout.align()` (mimalloc's aligned calls for alignments over
// `PLAIN_ALIGN`; plain calls otherwise, whose blocks are always
// word-aligned), or null on failure; `dealloc` and `realloc` take only
// pointers these returned, and `mi_free` frees a block from either kind of
// call.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            // SAFETY: plain allocation of `layout.size()` bytes; no
            // precondition beyond a non-zero size, which the caller of
            // `GlobalAlloc::alloc` guarantees.
            unsafe { mi::mi_malloc(layout.size()).cast() }
        } else {
            // SAFETY: `Layout` guarantees a power-of-two alignment.
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            // SAFETY: as in `alloc`.
            unsafe { mi::mi_zalloc(layout.size()).cast() }
        } else {
            // SAFETY: as in `alloc`.
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a pointer this allocator returned, a
        // mimalloc block, which `mi_free` takes whichever call made it.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= PLAIN_ALIGN {
            // SAFETY: `ptr` is a live block of this allocator (the caller's
            // guarantee); the new block is word-aligned like every plain
            // block, which the alignment asks for.
            unsafe { mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast() }
        } else {
            // SAFETY: as above, keeping the block's alignment.
            unsafe { mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast() }
        }
    }
}

/// Asks the CPU to start loading the cache lines of `value` (its first
/// `lines` lines), without waiting for them: a hint, with no effect on
/// what the program computes.
#[inline]
pub fn prefetch<T: ?Sized>(value: &T, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let base = (value as *const T).cast::<i8>();
        for i in 0..lines {
            // SAFETY: a prefetch never faults and reads nothing the program
            // sees; SSE is part of every x86_64 target.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.wrapping_add(i * 64)) }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (value, lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// So that the tests' own collections go through it too.
    #[global_allocator]
    static GLOBAL: Mimalloc = Mimalloc;

    /// Allocates, writes, grows and frees `layout` through `Mimalloc`,
    /// checking alignment and contents at each step.
    fn round_trip(layout: Layout, zeroed: bool) {
        let a = Mimalloc;
        let size = layout.size();
        // SAFETY: `layout` has a non-zero size (the callers' loops start at 1).
        let p = unsafe {
            if zeroed {
                a.alloc_zeroed(layout)
            } else {
                a.alloc(layout)
            }
        };
        assert!(!p.is_null(), "{layout:?}");
        assert_eq!(p as usize % layout.align(), 0, "{layout:?} misaligned");
        // SAFETY: `p` is a live block of `size` bytes.
        let bytes = unsafe { std::slice::from_raw_parts_mut(p, size) };
        if zeroed {
            assert!(bytes.iter().all(|&b| b == 0), "{layout:?} not zeroed");
        }
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        let grown = size * 2 + 8;
        // SAFETY: `p` came from `a` with `layout`; `grown` is non-zero.
        let q = unsafe { a.realloc(p, layout, grown) };
        assert!(!q.is_null(), "{layout:?} realloc");
        assert_eq!(
            q as usize % layout.align(),
            0,
            "{layout:?} realloc misaligned"
        );
        // SAFETY: `q` is a live block of `grown >= size` bytes.
        let kept = unsafe { std::slice::from_raw_parts(q, size) };
        assert!(
            kept.iter().enumerate().all(|(i, &b)| b == i as u8),
            "{layout:?} contents"
        );
        // SAFETY: `q` came from `a`; the layout's size is not read.
        unsafe { a.dealloc(q, layout) };
    }

    #[test]
    fn every_small_size_is_aligned_as_asked() {
        for align in [1, 2, 4, 8, 16, 32, 64, 128] {
            for size in 1..=4096 {
                let Ok(layout) = Layout::from_size_align(size, align) else {
                    continue;
                };
                round_trip(layout, size % 3 == 0);
            }
        }
    }

    #[test]
    fn large_blocks_and_large_alignments() {
        for size in [64 << 10, (1 << 20) + 24, 5 << 20] {
            for align in [8, 4096, 1 << 16] {
                let Ok(layout) = Layout::from_size_align(size, align) else {
                    continue;
                };
                round_trip(layout, true);
            }
        }
    }

    /// Many live blocks of one size: pages fill and new ones come, the
    /// path the aligned API left for over-allocation.
    #[test]
    fn many_live_blocks_stay_aligned() {
        for size in [24usize, 40, 48, 56, 72, 136] {
            let blocks: Vec<Vec<u64>> = (0..20_000).map(|i| vec![i as u64; size / 8]).collect();
            for (i, b) in blocks.iter().enumerate() {
                assert_eq!(b.as_ptr() as usize % 8, 0);
                assert!(b.iter().all(|&x| x == i as u64));
            }
        }
    }

    /// A hint only: any reference, of any size, asking for more lines
    /// than it covers, leaves every value as it was.
    #[test]
    fn a_prefetch_changes_nothing() {
        let small = 7u8;
        let block = vec![3u64; 1000];
        let empty: [u64; 0] = [];
        prefetch(&small, 64);
        prefetch(block.as_slice(), 200);
        prefetch(&empty, 4);
        prefetch(&(), 1);
        prefetch("text", 0);
        assert_eq!(small, 7);
        assert!(block.iter().all(|&x| x == 3));
    }
}
