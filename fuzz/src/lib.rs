//! Shared code of the fuzz targets. The invariant checks live in `checks.rs`, which the regression test
//! (`tests/fuzz_regressions.rs`) includes too, so both run the same assertions.

pub mod checks;
