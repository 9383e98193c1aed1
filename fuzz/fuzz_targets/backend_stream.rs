#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| infernet::fuzzing::backend_stream(data));
