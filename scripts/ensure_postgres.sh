#!/usr/bin/env bash
# Debian's postgresql for the tests of --db postgresql:// (they start a throwaway cluster of their own).
# Installs it when it is missing and apt-get can run; never fails: without PostgreSQL those tests skip,
# and this says so in one loud line.
found() { command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
found && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "PostgreSQL is missing: installing Debian's postgresql for its tests" >&2
    log=$(mktemp)
    if (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql) >"$log" 2>&1 && found; then
        rm -f "$log"
        exit 0
    fi
    tail -n 5 "$log" >&2
    rm -f "$log"
fi
echo "!!! PostgreSQL could not be installed (apt-get install -y postgresql, as root): its tests will SKIP !!!" >&2
exit 0
