//! Bounds on what a peer's sync message may hold, checked before automerge 0.12 sees it.

use super::SyncError;

/// The most hashes in each of a sync message's lists (heads, needs, a have's last sync). A
/// node asks for at most 4096 missing changes at once, and a document's heads are the
/// concurrent writers of one period; this leaves ample room above both.
pub const MAX_SYNC_HASHES: usize = 16 * 1024;

/// The most `have` entries in a sync message. automerge sends one.
pub const MAX_SYNC_HAVES: usize = 16;

/// Bits per entry accepted in a peer's bloom filter. automerge writes 10 (a 1 % false
/// positive rate); 0 makes automerge 0.12 divide by zero when it answers.
pub const FILTER_BITS_PER_ENTRY: std::ops::RangeInclusive<u64> = 1..=32;

/// Probes accepted in a peer's bloom filter. automerge writes 7; it reserves memory for as
/// many probes as the filter says for every change it tests, so u32::MAX would take 16 GiB.
pub const FILTER_PROBES: std::ops::RangeInclusive<u64> = 1..=32;

/// Checks the parts of a decoded sync message that automerge 0.12 trusts: the number of
/// hashes and haves, and each have's bloom filter.
pub(super) fn check_message(message: &automerge::sync::Message) -> Result<(), SyncError> {
    let out = |why: String| Err(SyncError::OutOfBounds(why));
    if message.heads.len() > MAX_SYNC_HASHES || message.need.len() > MAX_SYNC_HASHES {
        return out(format!(
            "{} heads and {} needs (at most {MAX_SYNC_HASHES} each)",
            message.heads.len(),
            message.need.len()
        ));
    }
    if message.have.len() > MAX_SYNC_HAVES {
        return out(format!(
            "{} haves (at most {MAX_SYNC_HAVES})",
            message.have.len()
        ));
    }
    for have in &message.have {
        if have.last_sync.len() > MAX_SYNC_HASHES {
            return out(format!("{} last sync hashes", have.last_sync.len()));
        }
        check_filter(&have.bloom.to_bytes()).map_err(SyncError::OutOfBounds)?;
    }
    Ok(())
}

/// Checks a bloom filter in its wire form (automerge keeps the fields private but writes them
/// back exactly): empty, or entries, bits per entry and probes as unsigned LEB128 followed by
/// exactly `ceil(entries * bits per entry / 8)` bytes of bits.
pub(super) fn check_filter(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        // automerge writes an empty filter for no entries and never probes it.
        return Ok(());
    }
    let mut rest = bytes;
    let mut next = || -> Result<u64, String> {
        let mut value: u64 = 0;
        for (i, byte) in rest.iter().enumerate().take(5) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                rest = &rest[i + 1..];
                return Ok(value);
            }
        }
        Err("bloom filter header cannot be read".into())
    };
    let entries = next()?;
    let bits_per_entry = next()?;
    let probes = next()?;
    if entries == 0 {
        // automerge answers "not contained" without probing such a filter.
        return Ok(());
    }
    if !FILTER_BITS_PER_ENTRY.contains(&bits_per_entry) {
        return Err(format!("bloom filter with {bits_per_entry} bits per entry"));
    }
    if !FILTER_PROBES.contains(&probes) {
        return Err(format!("bloom filter with {probes} probes"));
    }
    let expected = (entries * bits_per_entry).div_ceil(8);
    if rest.is_empty() || rest.len() as u64 != expected {
        return Err(format!(
            "bloom filter of {entries} entries with {} bytes of bits",
            rest.len()
        ));
    }
    Ok(())
}
