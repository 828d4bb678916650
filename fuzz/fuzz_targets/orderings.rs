#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daedalus_fuzz::orderings::fuzz(data));
