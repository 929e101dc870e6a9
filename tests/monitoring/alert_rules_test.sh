#!/bin/sh
# The alerting rules' unit tests: `promtool check rules` on the rules file,
# then `promtool test rules` on the test files, after checking that every
# alert in the rules file has a test case where it fires and one where it
# stays quiet. Exits 77 (ctest: skipped, with this message) when promtool is
# not installed.
#
# Usage: alert_rules_test.sh RULES_FILE TEST_FILE...
set -eu
rules=$1
shift
if ! command -v promtool >/dev/null 2>&1; then
  echo "SKIPPED: promtool is not installed (Debian package prometheus;" \
    "scripts/install-deps.sh installs it): the alerting rules are not unit-tested"
  exit 77
fi
promtool check rules "$rules"

# alertname -> "fires" when a case expects alerts, "quiet" when it expects none.
cases=$(awk '
  /alertname:/ { name = $2 }
  /exp_alerts: *\[ *\]/ { print name, "quiet"; next }
  /exp_alerts: *$/ { print name, "fires" }
' "$@" | sort -u)
missing=0
for alert in $(sed -n 's/^[[:space:]]*-[[:space:]]*alert:[[:space:]]*\([A-Za-z0-9_]*\).*/\1/p' "$rules"); do
  for kind in fires quiet; do
    if ! printf '%s\n' "$cases" | grep -qx "$alert $kind"; then
      echo "no test case where $alert $kind"
      missing=1
    fi
  done
done
[ "$missing" -eq 0 ] || exit 1

promtool test rules "$@"
