//! Decoding cannot be made to allocate more than it reads: hostile length prefixes that the input
//! can just about cover are decoded under a counting allocator, and the peak memory they make the
//! decoder hold is bounded by a small multiple of the input's size.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use depin_core::codec::{Decode, Encode};
use depin_core::{Block, Transaction};

/// Counts live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Peak bytes held above what was live before `f` ran.
fn peak_during(f: impl FnOnce()) -> usize {
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    f();
    PEAK.load(Ordering::SeqCst) - before
}

/// A length prefix of `count` followed by `count` filler bytes: the prefix passes the "no more
/// elements than bytes" check, and the elements then fail to decode (early, for a filler whose
/// first element is refused; late, for a filler of which many elements decode).
fn hostile(prefix: &[u8], count: u32, filler: u8) -> Vec<u8> {
    let mut bytes = prefix.to_vec();
    count.encode(&mut bytes);
    bytes.resize(bytes.len() + count as usize, filler);
    bytes
}

fn header_bytes() -> Vec<u8> {
    let block = Block {
        header: depin_core::Header {
            height: 1,
            parent: depin_core::Hash::ZERO,
            time_ms: 1,
            proposer: depin_core::Keypair::from_seed([1; 32]).address(),
            tx_root: depin_core::Hash::ZERO,
            receipts_root: depin_core::Hash::ZERO,
            app_hash: depin_core::Hash::ZERO,
            base_fee: 1,
            consensus: Vec::new(),
        },
        txs: Vec::new(),
        signature: depin_core::Signature([0; 64]),
    };
    block.header.to_bytes()
}

/// A named hostile input and the decoding that must refuse it.
type Case = (&'static str, Vec<u8>, Box<dyn Fn(&[u8]) -> bool>);

// One test, so that no other test's allocations run on another thread while measuring.
#[test]
fn hostile_length_prefixes_allocate_at_most_a_small_multiple_of_the_input() {
    const INPUT_BYTES: u32 = 1 << 20;
    let cases: Vec<Case> = vec![
        (
            "Vec<Transaction>",
            hostile(&[], INPUT_BYTES, 0xff),
            Box::new(|b| Vec::<Transaction>::from_bytes(b).is_err()),
        ),
        (
            "Block with a huge transaction count",
            hostile(&header_bytes(), INPUT_BYTES, 0xff),
            Box::new(|b| Block::from_bytes(b).is_err()),
        ),
        (
            "Vec<Vec<u64>>",
            hostile(&[], INPUT_BYTES, 0xff),
            Box::new(|b| Vec::<Vec<u64>>::from_bytes(b).is_err()),
        ),
        (
            "Vec<(u128, u128)>",
            hostile(&[], INPUT_BYTES, 7),
            Box::new(|b| Vec::<(u128, u128)>::from_bytes(b).is_err()),
        ),
        (
            "String",
            hostile(&[], INPUT_BYTES, 0xff),
            Box::new(|b| String::from_bytes(b).is_err()),
        ),
    ];
    // Zero bytes are many valid empty transfers from the all-zero signer: decoding really
    // produces them, so what is held grows with what was read (a `Transaction` in memory is a
    // few times its ~150-byte encoding), never with the prefix.
    // Likewise empty inner vectors: 4 bytes read, 24 bytes held, and the outer vector doubling.
    let zeros = hostile(&[], INPUT_BYTES, 0);
    let peak = peak_during(|| assert!(Vec::<Transaction>::from_bytes(&zeros).is_err()));
    assert!(peak <= 16 * zeros.len(), "empty transfers: held {peak}");
    let peak = peak_during(|| assert!(Vec::<Vec<u64>>::from_bytes(&zeros).is_err()));
    assert!(peak <= 16 * zeros.len(), "empty vectors: held {peak}");
    for (what, input, decode) in &cases {
        let peak = peak_during(|| assert!(decode(input), "{what} must be refused"));
        assert!(
            peak <= 2 * input.len() + 4096,
            "{what}: decoding {} bytes held {peak} bytes at its peak",
            input.len()
        );
    }
}
