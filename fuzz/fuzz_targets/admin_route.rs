#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| bridge_fuzz_targets::targets::admin_route(data));
