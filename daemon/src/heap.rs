//! Gives the allocator's free memory back to the system.
//!
//! glibc's allocator returns freed memory to the system only from the top of each heap: what
//! is freed below a block still in use stays resident, free, for the life of the process. A
//! node's start-up is made of such frees: loading a document's full save (20 MB for a month of
//! check-ins of 500 members) builds automerge's columns through large transient buffers,
//! and what stays live after it (the document, the indexes) is spread across the memory they
//! used. A compaction does the same with the save it writes. [`give_back`] asks glibc for
//! every free page of every arena (`malloc_trim(0)`, which gives back the pages between live
//! blocks too, with `madvise`); live memory is not touched, and a later allocation takes the
//! pages again from the system.
//!
//! The node calls it after its start-up and on every anti-entropy tick (after compaction,
//! putting idle documents out of memory and retention): a walk of the allocator's free
//! lists, about 0.1 ms on a node of 12,000 check-ins, never within a turn that holds answers.
//! Elsewhere than glibc it does nothing: musl and the BSD and macOS allocators give memory
//! back by themselves.

/// Gives the allocator's free pages back to the system. Returns whether any was given.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn give_back() -> bool {
    // SAFETY: malloc_trim takes no pointer and works only on glibc's own free lists, under
    // the locks every allocation takes; it is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Gives the allocator's free pages back to the system. Returns whether any was given.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn give_back() -> bool {
    false
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::give_back;

    /// Resident pages of this process, from /proc.
    fn resident_kb() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("resident pages");
        pages * 4
    }

    #[test]
    fn memory_freed_below_a_live_block_goes_back_to_the_system() {
        // 64 MiB in blocks below glibc's mmap threshold, from the heap, touched; then one
        // block allocated after them stays live, so the heap cannot shrink from its top.
        let blocks: Vec<Vec<u8>> = (0..2048).map(|i| vec![i as u8 | 1; 32 * 1024]).collect();
        let pin = vec![7u8; 1024];
        let touched: u64 = blocks.iter().map(|b| u64::from(b[100])).sum();
        assert!(touched > 0);
        let before = resident_kb();
        drop(blocks);
        let freed = resident_kb();
        assert!(give_back(), "glibc gave nothing back");
        let after = resident_kb();
        assert_eq!(pin[3], 7);
        // Tests run in threads beside this one; what they hold is not this test's, so only
        // what this test freed is counted: most of its 64 MiB left the resident set.
        assert!(
            after + 48 * 1024 < before.max(freed),
            "resident {before} kB with the blocks, {freed} kB freed, {after} kB given back"
        );
    }
}
