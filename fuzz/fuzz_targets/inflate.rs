//! Fuzz target `inflate`: see `fuzz/targets.rs` for what it feeds and which invariants it asserts.
#![no_main]

#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets::inflate(data));
