//! `X-Hub-Signature-256` parsing and verification: no input panics, and a
//! signature this code made always verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prpulse_github::{Signature, sign, verify};

fuzz_target!(|input: &[u8]| {
    let (secret, rest) = input.split_at(input.len().min(16));
    if let Ok(header) = std::str::from_utf8(rest) {
        if let Ok(signature) = Signature::parse(header) {
            let _ = verify(secret, rest, &signature);
        }
    }
    let made = sign(secret, rest);
    let parsed = Signature::parse(&made).expect("our own signature parses");
    assert!(verify(secret, rest, &parsed));
});
