//! Where each domain's run starts and ends in the matcher's sorted domain
//! list, by the domain's hash.
//!
//! Every domain-shaped string of a posting probes several candidate hosts.
//! A binary search over 100 000 domains per candidate was once most of the
//! matching time, and a `HashMap` costs two cache misses per probe (its
//! control bytes, then the entry); here a probe reads one slot, usually one
//! cache line.

/// In [`Runs::get`]: two distinct domains share this hash, so the caller
/// falls back to the binary search.
pub(super) const COLLIDED: u32 = u32::MAX;

#[derive(Clone, Copy, Default)]
struct Slot {
    hash: u64,
    start: u32,
    /// 0: an empty slot (a run is never empty).
    end: u32,
}

/// Open-addressed, linear probing, at most half full.
pub(super) struct Runs {
    slots: Vec<Slot>,
}

impl Runs {
    /// From (hash, start, end) of each run.
    pub(super) fn new(runs: &[(u64, u32, u32)]) -> Runs {
        let mut slots = vec![Slot::default(); (runs.len() * 2).next_power_of_two().max(16)];
        let mask = slots.len() - 1;
        for &(hash, start, end) in runs {
            let mut i = hash as usize & mask;
            loop {
                let slot = &mut slots[i];
                if slot.end == 0 {
                    *slot = Slot { hash, start, end };
                    break;
                }
                if slot.hash == hash {
                    slot.start = COLLIDED;
                    break;
                }
                i = (i + 1) & mask;
            }
        }
        Runs { slots }
    }

    /// The run of `hash` as (start, end), start [`COLLIDED`] when two
    /// domains share the hash.
    pub(super) fn get(&self, hash: u64) -> Option<(u32, u32)> {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.end == 0 {
                return None;
            }
            if slot.hash == hash {
                return Some((slot.start, slot.end));
            }
            i = (i + 1) & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_by_hash_with_shared_hashes_marked() {
        // Hashes 1 and 17 share a slot in 16 slots; 5 is listed twice.
        let runs = Runs::new(&[(1, 0, 2), (17, 2, 3), (5, 3, 4), (5, 4, 6)]);
        assert_eq!(runs.get(1), Some((0, 2)));
        assert_eq!(runs.get(17), Some((2, 3)));
        assert_eq!(runs.get(5), Some((COLLIDED, 4)));
        assert_eq!(runs.get(33), None);
        assert_eq!(runs.get(2), None);
        assert_eq!(Runs::new(&[]).get(1), None);
    }
}
