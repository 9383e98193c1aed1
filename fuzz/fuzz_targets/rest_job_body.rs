#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| infernet::fuzzing::rest_job_body(data));
