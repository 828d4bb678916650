#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daedalus_fuzz::kmod_messages::fuzz(data));
