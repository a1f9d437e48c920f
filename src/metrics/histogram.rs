//! A fixed-size latency histogram of log-linear buckets in atomics: recording a value is one relaxed add, with
//! no lock and no allocation.
//!
//! Values below 8 have a bucket each. Above, every power of two `[2^e, 2^(e+1))` is split into 8 buckets of
//! equal width `2^(e-3)`, so a bucket's width is at most one eighth of its lower edge. A percentile is reported
//! as the middle of its bucket, within 1/16 (6.25 %) of every value the bucket holds. The 496 buckets cover
//! the whole `u64` range.

use std::sync::atomic::{AtomicU64, Ordering};

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 3;
const SUB_BUCKETS: u64 = 1 << SUB_BITS;
/// Buckets: the exact ones below `SUB_BUCKETS`, then `SUB_BUCKETS` for each exponent from `SUB_BITS` to 63.
pub(crate) const BUCKETS: usize = (SUB_BUCKETS as usize) * (64 - SUB_BITS as usize + 1);

/// Counts of values per bucket.
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { buckets: [const { AtomicU64::new(0) }; BUCKETS] }
    }
}

/// The bucket holding `value`.
pub(crate) fn bucket_of(value: u64) -> usize {
    if value < SUB_BUCKETS {
        return value as usize;
    }
    let exponent = 63 - value.leading_zeros();
    let sub = (value >> (exponent - SUB_BITS)) & (SUB_BUCKETS - 1);
    ((exponent - SUB_BITS + 1) as usize) * SUB_BUCKETS as usize + sub as usize
}

/// The smallest and largest value bucket `bucket` holds.
pub(crate) fn bucket_range(bucket: usize) -> (u64, u64) {
    let bucket = bucket as u64;
    if bucket < SUB_BUCKETS {
        return (bucket, bucket);
    }
    let exponent = (bucket / SUB_BUCKETS) as u32 + SUB_BITS - 1;
    let sub = bucket % SUB_BUCKETS;
    let width = 1u64 << (exponent - SUB_BITS);
    let low = (SUB_BUCKETS + sub) << (exponent - SUB_BITS);
    (low, low + (width - 1))
}

impl Histogram {
    /// Counts `value`.
    #[inline]
    pub(crate) fn record(&self, value: u64) {
        self.buckets[bucket_of(value)].fetch_add(1, Ordering::Relaxed);
    }

    /// The `per_mille`th value per thousand (500 for the median, 990 for p99), as the middle of its bucket;
    /// 0 when nothing was recorded. Read while values are being recorded, it sees some of them.
    pub(crate) fn percentile(&self, per_mille: u64) -> u64 {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        // The rank of the value sought, from 1: the smallest rank with at least `per_mille`/1000 of the values
        // at or below it.
        let rank = (total * per_mille).div_ceil(1000).max(1);
        let mut seen = 0;
        for (bucket, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, high) = bucket_range(bucket);
                return low + (high - low) / 2;
            }
        }
        unreachable!("the ranks add up to the total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_have_a_bucket_each() {
        for value in 0..8 {
            assert_eq!(bucket_of(value), value as usize);
            assert_eq!(bucket_range(value as usize), (value, value));
        }
    }

    #[test]
    fn bucket_edges_follow_each_power_of_two() {
        assert_eq!(bucket_of(8), 8);
        assert_eq!(bucket_of(15), 15);
        assert_eq!(bucket_of(16), 16);
        assert_eq!(bucket_of(17), 16);
        assert_eq!(bucket_of(18), 17);
        assert_eq!(bucket_range(16), (16, 17));
        assert_eq!(bucket_of(1023), bucket_of(960));
        assert_eq!(bucket_of(1024), bucket_of(1023) + 1);
        assert_eq!(bucket_range(bucket_of(1000)), (960, 1023));
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_range(BUCKETS - 1).1, u64::MAX);
    }

    #[test]
    fn every_bucket_holds_exactly_its_range_and_the_ranges_tile_u64() {
        let mut next = 0u64;
        for bucket in 0..BUCKETS {
            let (low, high) = bucket_range(bucket);
            assert_eq!(low, next, "bucket {bucket} starts where the last ended");
            assert_eq!(bucket_of(low), bucket);
            assert_eq!(bucket_of(high), bucket);
            // A bucket is at most an eighth as wide as its lower edge.
            assert!(high - low <= low / 8, "bucket {bucket}: {low}..={high}");
            next = high.wrapping_add(1);
        }
        assert_eq!(next, 0, "the last bucket ends at u64::MAX");
    }

    #[test]
    fn an_empty_histogram_reports_zero() {
        assert_eq!(Histogram::default().percentile(500), 0);
    }

    #[test]
    fn a_constant_is_every_percentile_within_a_sixteenth() {
        let histogram = Histogram::default();
        for _ in 0..100 {
            histogram.record(1000);
        }
        for per_mille in [1, 500, 990, 1000] {
            let value = histogram.percentile(per_mille);
            assert!(value.abs_diff(1000) <= 1000 / 16, "p{per_mille}: {value}");
        }
    }

    #[test]
    fn percentiles_of_a_uniform_distribution() {
        let histogram = Histogram::default();
        for value in 1..=10_000 {
            histogram.record(value);
        }
        let p50 = histogram.percentile(500);
        let p99 = histogram.percentile(990);
        assert!(p50.abs_diff(5000) <= 5000 / 8, "p50: {p50}");
        assert!(p99.abs_diff(9900) <= 9900 / 8, "p99: {p99}");
    }

    #[test]
    fn p99_sees_a_slow_tail_that_p50_does_not() {
        let histogram = Histogram::default();
        for _ in 0..980 {
            histogram.record(100);
        }
        for _ in 0..20 {
            histogram.record(1_000_000);
        }
        assert!(histogram.percentile(500).abs_diff(100) <= 100 / 16);
        assert!(histogram.percentile(990).abs_diff(1_000_000) <= 1_000_000 / 16);
        // The 980th value is the last fast one; the 981st is the first slow one.
        assert!(histogram.percentile(980) < 200);
        assert!(histogram.percentile(981) > 900_000);
    }
}
