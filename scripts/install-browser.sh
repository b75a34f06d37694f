#!/bin/sh
# `make test`'s one system-wide step: the dashboard's browser test needs a headless Chromium.
# Says which Debian packages it installs, and why, before it installs them; installs nothing
# when a Chromium is already there, and explains the skip when it cannot install (not root, no
# apt-get). `make test PYTEST_ARGS='-m "not browser"'` does not run this at all.
set -u
PACKAGES="chromium fonts-liberation"

for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done
if [ "$(id -u)" != 0 ]; then
    echo "make test: no Chromium, and not root to install Debian's $PACKAGES: the browser tests will be skipped"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "make test: no Chromium, and no apt-get to install it with: the browser tests will be skipped"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "make test: the dashboard's browser test needs a headless Chromium; none is installed."
echo "make test: reading the package lists (apt-get update), to install Debian's $PACKAGES."
if ! apt-get update -qq >/dev/null 2>&1; then
    echo "make test: apt-get update failed: the browser tests will be skipped"
    exit 0
fi
# What `apt-get install` would add: the two packages and every dependency not installed yet.
# shellcheck disable=SC2086
planned=$(apt-get install --simulate --no-install-recommends $PACKAGES 2>/dev/null \
    | awk '/^Inst /{print $2}')
count=$(printf '%s\n' "$planned" | grep -c .)
echo "make test: installing $count Debian packages with apt-get install --no-install-recommends"
echo "           (system-wide; everything else make test writes stays in the clone):"
printf '%s\n' "$planned" | tr '\n' ' ' | fold -s -w 88 | sed 's/^/             /'
echo
echo "make test: to skip instead: make test PYTEST_ARGS='-m \"not browser\"'"
# shellcheck disable=SC2086
if ! apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null 2>&1; then
    echo "make test: apt-get install failed: the browser tests will be skipped"
fi
exit 0
