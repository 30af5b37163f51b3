// The translation unit that builds the tests' precompiled header (tests/CMakeLists.txt, strait_test_pch); it holds
// nothing itself.
