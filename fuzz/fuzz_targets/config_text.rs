#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| infernet::fuzzing::config_text(data));
