//! Truncated, oversized, bit-flipped and random buffers: decoding always
//! gives a typed error or a valid message that re-encodes to the same bytes,
//! never a panic. Deterministic: every case derives from a printed seed
//! (override with DAEDALUS_PROTO_SEED).

mod common;

use daedalus_proto::*;

/// SplitMix64: small, seedable, good enough to spread cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn seed() -> u64 {
    let seed = std::env::var("DAEDALUS_PROTO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00da_eda1);
    eprintln!("robustness seed: {seed} (DAEDALUS_PROTO_SEED)");
    seed
}

/// Decodes `buf`; a success must validate and re-encode to `buf` exactly.
/// Returns whether it decoded.
fn check(buf: &[u8], what: &str) -> bool {
    match std::panic::catch_unwind(|| Message::decode(buf)) {
        Err(_) => panic!("decode panicked on {what}: {buf:02x?}"),
        Ok(Err(e)) => {
            assert!(!e.to_string().is_empty());
            false
        }
        Ok(Ok(msg)) => {
            assert_eq!(msg.validate(), Ok(()), "{what}");
            assert_eq!(
                msg.encode().as_deref(),
                Ok(buf),
                "{what}: re-encoding differs"
            );
            true
        }
    }
}

#[test]
fn every_truncation_of_every_sample_is_an_error() {
    for (name, msg) in common::samples() {
        let bytes = msg.encode().unwrap();
        for cut in 0..bytes.len() {
            assert!(!check(&bytes[..cut], name), "{name} cut at {cut} decoded");
        }
        assert!(check(&bytes, name));
    }
}

#[test]
fn oversized_buffers_are_errors() {
    for (name, msg) in common::samples() {
        let mut bytes = msg.encode().unwrap();
        bytes.extend_from_slice(&[0; 9]);
        assert!(
            matches!(
                Message::decode(&bytes),
                Err(ProtoError::TrailingBytes { .. })
            ),
            "{name}"
        );
    }
    // A header announcing more than DAEDALUS_MAX_PAYLOAD, with the bytes there.
    let mut big = common::samples()[4].1.encode().unwrap();
    big.resize(HDR_SIZE + MAX_PAYLOAD as usize + 1, 0);
    big[8..12].copy_from_slice(&(MAX_PAYLOAD + 1).to_le_bytes());
    assert!(matches!(
        Message::decode(&big),
        Err(ProtoError::PayloadTooLarge { .. })
    ));
}

#[test]
fn mutated_samples_never_panic() {
    let mut rng = Rng(seed());
    let samples = common::samples();
    let (mut ok, mut err) = (0, 0);
    for case in 0..20_000 {
        let (name, msg) = &samples[rng.below(samples.len())];
        let mut b = msg.encode().unwrap();
        for _ in 0..1 + rng.below(4) {
            match rng.below(5) {
                0 => {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let i = rng.below(b.len());
                    b[i] = rng.next() as u8;
                }
                2 => {
                    let n = rng.below(b.len() + 1);
                    b.truncate(n);
                }
                3 => {
                    for _ in 0..rng.below(16) {
                        b.push(rng.next() as u8);
                    }
                    // Sometimes make the header agree with the new length.
                    if rng.below(2) == 0 && b.len() >= HDR_SIZE {
                        let len = (b.len() - HDR_SIZE) as u32;
                        b[8..12].copy_from_slice(&len.to_le_bytes());
                    }
                }
                _ => {
                    // A whole u32 field at an aligned offset: flags, enums, lengths.
                    if b.len() >= 4 {
                        let i = rng.below(b.len() / 4) * 4;
                        let v = [0, 1, 2, 3, 4, 5, 8, 0xffff_ffff, rng.next() as u32][rng.below(9)];
                        b[i..i + 4].copy_from_slice(&u32::to_le_bytes(v));
                    }
                }
            }
            if b.is_empty() {
                break;
            }
        }
        if check(&b, &format!("case {case} from {name}")) {
            ok += 1;
        } else {
            err += 1;
        }
    }
    // Both outcomes must actually occur, or the mutations test nothing.
    assert!(ok > 100 && err > 100, "ok {ok} err {err}");
}

#[test]
fn random_buffers_never_panic() {
    let mut rng = Rng(seed() ^ 0x5555);
    for case in 0..20_000 {
        let len = rng.below(200);
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Give most cases a plausible header so the body checks are reached.
        if len >= HDR_SIZE && rng.below(4) != 0 {
            b[0..4].copy_from_slice(&PROTO_MAGIC.to_le_bytes());
            b[4..6].copy_from_slice(&PROTO_VERSION.to_le_bytes());
            let t = MsgType::ALL[rng.below(MsgType::ALL.len())];
            b[6..8].copy_from_slice(&t.raw().to_le_bytes());
            b[8..12].copy_from_slice(&((len - HDR_SIZE) as u32).to_le_bytes());
            b[12..16].fill(0);
        }
        check(&b, &format!("random case {case}"));
    }
}

#[test]
fn peek_header_frames_a_stream() {
    let samples = common::samples();
    let mut stream = Vec::new();
    for (_, m) in &samples {
        m.encode_into(&mut stream).unwrap();
    }
    let mut at = 0;
    let mut n = 0;
    while at < stream.len() {
        let (_, ty, len) = peek_header(&stream[at..]).unwrap();
        let msg = Message::decode(&stream[at..at + len]).unwrap();
        assert_eq!(msg.ty(), ty);
        assert_eq!(msg, samples[n].1);
        at += len;
        n += 1;
    }
    assert_eq!(n, samples.len());
}
