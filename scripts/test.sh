#!/usr/bin/env bash
# Installs and builds (scripts/setup.sh), then runs every test: unit tests and the
# end-to-end bats suites under tests/e2e, through CTest.
#
#   bash scripts/test.sh                 # all tests
#   bash scripts/test.sh -R e2e_lifecycle  # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure "$@"
