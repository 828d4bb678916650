#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| daedalus_fuzz::parsers::trace_import(data));
