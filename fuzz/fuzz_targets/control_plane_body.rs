#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| infernet::fuzzing::control_plane_body(data));
