# Shared by the test scripts: `check "what" command args…` runs the command and counts a pass or
# a failure (printing what failed); `summary NAME` prints "N passed, M failed" and returns non-zero
# on any failure.
passed=0 failed=0
check() {
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $what"; fi
}
# `contains TEXT PATTERN`: TEXT has a line matching the extended regular expression PATTERN.
contains() { grep -qE -- "$2" <<<"$1"; }
summary() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" = 0 ]
}
