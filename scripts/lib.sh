# Shared by the test scripts: `check "what" command args…` runs the command and counts a pass or
# a failure (printing what failed; with CHECK_PASSES=1, what passed too); `summary NAME` prints
# "N passed, M failed" and returns non-zero on any failure. The command is run as given, never
# through eval: a compound condition goes into a small function of the script.
passed=0 failed=0
check() {
  local what=$1; shift
  if "$@"; then
    passed=$((passed + 1))
    [ "${CHECK_PASSES:-0}" = 1 ] && echo "PASS: $what"
  else
    failed=$((failed + 1)); echo "FAIL: $what"
  fi
  return 0
}
sql() { sqlite3 -batch -noheader -cmd '.timeout 10000' "$1" "$2"; }
# `contains TEXT PATTERN`: TEXT has a line matching the extended regular expression PATTERN.
contains() { grep -qE -- "$2" <<<"$1"; }
# `lacks TEXT PATTERN`: no line of TEXT matches PATTERN.
lacks() { ! grep -qE -- "$2" <<<"$1"; }
# `equals EXPECTED ACTUAL`: the two strings are equal; otherwise prints both.
equals() { [ "$1" = "$2" ] || { echo "  expected '$1', got '$2'"; return 1; }; }
summary() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" = 0 ]
}
