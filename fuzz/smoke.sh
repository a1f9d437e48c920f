#!/usr/bin/env bash
# Fuzzes each target briefly, starting from the regression inputs.
#
# Usage: fuzz/smoke.sh [SECONDS]   (SECONDS per target, default 30)
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`); without them it prints a message and
# exits 0. Exits non-zero when a target finds a crash; the input is saved under fuzz/artifacts/<target>/.
set -euo pipefail

seconds="${1:-30}"
case "$seconds" in
  '' | *[!0-9]* | 0)
    echo "usage: $0 [SECONDS]  (a positive whole number of seconds per target)" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz smoke test skipped: \`cargo +nightly fuzz\` is not available (needs a nightly toolchain and cargo-fuzz)."
  exit 0
fi

# build.rs leaves the committed C header alone when CI is set; a fuzz build should not rewrite it.
export CI="${CI:-1}"

run() {
  local target="$1"
  shift
  mkdir -p "corpus/$target"
  echo "== fuzzing $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "corpus/$target" "regressions/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 "$@"
}

run manifest -max_len=4096 -dict=manifest.dict
run discovery -max_len=2048
# A single allocation past the largest frame (16 MiB payload) is a crash.
run frame -max_len=4096 -malloc_limit_mb=17
# Past the 512-byte cap only the size check runs.
run signature -max_len=600

echo "== fuzz smoke test passed"
