#!/bin/bash
# Builds the libFuzzer targets of tests/fuzz (clang, AddressSanitizer and
# UndefinedBehaviorSanitizer) in build-fuzz/ and runs each for FUZZ_SECONDS (60)
# from its seeds, two at a time on two CPUs: the fuzzing step of scripts/test.sh.
# What a target finds stays in build-fuzz/tests/fuzz/corpus/NAME for the next run;
# an input that fails is kept as build-fuzz/tests/fuzz/crash-NAME-*, and
#   build-fuzz/tests/fuzz/fuzz_NAME FILE
# replays it (see tests/fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DVPC_FUZZ=ON -DVPC_FUZZ_SECONDS="$secs" >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz_topo_load fuzz_nacl_text fuzz_nacl_compile \
	fuzz_topology
(cd build-fuzz && ctest -L fuzz -j "$(nproc)" --output-on-failure)
