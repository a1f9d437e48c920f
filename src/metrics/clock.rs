//! The calling thread's CPU clock (`CLOCK_THREAD_CPUTIME_ID`).

/// The CPU time the calling thread has used, in nanoseconds; 0 where the clock cannot be read.
pub(super) fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to write to.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } != 0 {
        return 0;
    }
    (now.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(now.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::thread_cpu_ns;

    #[test]
    fn the_thread_clock_advances_with_work_and_not_with_sleep() {
        let before = thread_cpu_ns();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let worked = thread_cpu_ns() - before;
        assert!(worked > 0, "{x}");
        let before = thread_cpu_ns();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let slept = thread_cpu_ns() - before;
        assert!(slept < 20_000_000, "sleeping 50 ms used {slept} ns of CPU");
    }
}
