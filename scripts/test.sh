#!/bin/bash
# The whole test suite, from a fresh Debian 12 machine (as root):
#   dependencies, the normal and the ASan/UBSan builds (and that the Release
#   build type compiles), unit tests under both, a minute of fuzzing per fuzz
#   target, the BPF verdict tests, then the integration tests (real namespaces,
#   real traffic).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh --asan
echo "== the Release build type (gcc -O3, whose warnings differ) compiles too"
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j "$(nproc)" --target vpcd vpcctl unit_tests
echo "== unit tests (plain build)"
(cd build && ctest -L unit --output-on-failure)
echo "== unit tests (AddressSanitizer + UndefinedBehaviorSanitizer)"
(cd build-asan && ctest -L unit --output-on-failure)
echo "== fuzzing (libFuzzer, ASan + UBSan): topology files, NACL texts, the NACL compiler, edits"
bash scripts/fuzz.sh
echo "== BPF verdict tests (BPF_PROG_TEST_RUN, crafted packets)"
(cd build && ctest -L bpf --output-on-failure)
echo "== integration tests"
(cd build && ctest -L integration --output-on-failure)
echo "== integration tests again, vpcd built with AddressSanitizer + UndefinedBehaviorSanitizer"
asan_log=$(mktemp -d /tmp/vpcd-asan.XXXXXX)
(cd build-asan && ASAN_OPTIONS=log_path=$asan_log/report UBSAN_OPTIONS=log_path=$asan_log/report \
	ctest -L integration --output-on-failure)
if grep -l "ERROR\|runtime error" "$asan_log"/report.* 2>/dev/null; then
	cat "$asan_log"/report.* >&2
	echo "the sanitizers found errors in vpcd (above)" >&2
	exit 1
fi
rm -rf "$asan_log"
echo "== leftovers check"
left=$(ip netns list | awk '{print $1}' | grep '^vpc\.' || true)
pins=$(ls /sys/fs/bpf/vpcd 2>/dev/null || true)
if [ -n "$left$pins" ]; then
	echo "left behind: $left $pins" >&2
	exit 1
fi
echo "all tests passed"
