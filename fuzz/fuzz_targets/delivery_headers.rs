//! Delivery header parsing over arbitrary `name: value` lines.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use prpulse_github::DeliveryHeaders;

fuzz_target!(|input: &[u8]| {
    let text = String::from_utf8_lossy(input);
    let headers: HashMap<String, String> = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.to_owned()))
        .collect();
    if let Ok(parsed) = DeliveryHeaders::parse(|name| headers.get(name).map(String::as_str)) {
        // What passed the edge is what the rest of prpulse relies on.
        assert!(!parsed.delivery_id.as_str().is_empty());
        assert!(parsed.delivery_id.as_str().len() <= 128);
        assert!(parsed.hook_id.is_none_or(|id| id > 0));
    }
});
