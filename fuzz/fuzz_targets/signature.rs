#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    aisopod_loader_fuzz::checks::check_signature(data);
});
