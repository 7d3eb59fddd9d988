# The libFuzzer targets: tests/fuzz/fuzz_<name>.c with a committed corpus in
# tests/fuzz/corpus/<name>. Read by tests/fuzz/CMakeLists.txt (the clang
# build in build/fuzz) and tests/CMakeLists.txt (the bounded ctest runs).
set(WHARF_FUZZ_TARGETS env args chal ref demux cfg)
