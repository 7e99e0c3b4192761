#!/usr/bin/env bash
# CI: the wheel works on its own, and the example plug-in package works next to it.
#
# 1. Build the wheel from a copy of the sources, install it into a fresh virtual
#    environment and, from a directory that is not the checkout, run the main job, list
#    the scenarios and labs, grade a lab skeleton and run the benchmark with one seed,
#    checking exit statuses and output. Nothing named 'protocols' or 'adversaries' may
#    land at the top level of site-packages.
# 2. Install examples/bft-bracha (docs/plugins.md) into that environment as its own
#    package, then run, check, replay and show it, and run its own tests.
#
# Usage: .ci/wheel_and_plugin.sh   (PYTHON=python3.12 to choose the interpreter)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/bft-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
unset PYTHONPATH
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '== %s\n' "$*"; }
fail() {
    printf 'wheel/plug-in check FAILED: %s\n' "$*" >&2
    exit 1
}
# expect STATUS NAME -- COMMAND...: run COMMAND (output kept in $WORK/NAME.out) and fail,
# showing the end of its output, unless it exits with STATUS; a traceback always fails
expect() {
    local want="$1" name="$2" got=0
    shift 3
    "$@" >"$WORK/$name.out" 2>&1 || got=$?
    if [ "$got" != "$want" ]; then
        tail -n 25 "$WORK/$name.out" >&2
        fail "'$*' exited with status $got, expected $want (its output ends above)"
    fi
    if grep -q "^Traceback" "$WORK/$name.out"; then
        cat "$WORK/$name.out" >&2
        fail "'$*' printed a traceback"
    fi
}
# shows NAME TEXT: the output of NAME contains TEXT
shows() {
    grep -qF -- "$2" "$WORK/$1.out" || {
        tail -n 25 "$WORK/$1.out" >&2
        fail "the output of '$1' lacks '$2' (its output ends above)"
    }
}

step "building the wheel from a copy of the sources"
mkdir "$WORK/src" "$WORK/dist" "$WORK/elsewhere"
tar -C "$ROOT" --exclude=.git --exclude=build --exclude=dist --exclude='*.egg-info' \
    --exclude=__pycache__ --exclude=.hypothesis --exclude=.pytest_cache --exclude=.ruff_cache \
    -cf - . | tar -C "$WORK/src" -xf -
expect 0 wheel -- "$PYTHON" -m pip wheel --no-deps --quiet "$WORK/src" -w "$WORK/dist"
WHEEL="$(ls "$WORK"/dist/bft-*.whl)"
"$PYTHON" - "$WHEEL" <<'EOF' || fail "the wheel's contents are wrong (see above)"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
top = sorted({n.split("/")[0] for n in names})
wanted = ["bft/data/scenarios/skype-2007.toml", "bft/data/labs/02-byzantine-generals/lab.toml",
          "bft/data/sweeps/headline.toml", "bft/data/docs/plugins.md",
          "bft/protocols/pbft/__init__.py", "bft/adversaries/crash.py"]
missing = [w for w in wanted if w not in names]
stray = [t for t in top if t != "bft" and not t.endswith(".dist-info")]
if missing or stray:
    sys.exit(f"missing from the wheel: {missing}; top-level entries besides bft: {stray}")
EOF

step "installing it into a fresh virtual environment"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
BFT="$WORK/venv/bin/bft"
expect 0 install -- "$VPY" -m pip install --quiet "$WHEEL"
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
for name in protocols adversaries tests examples; do
    [ ! -e "$SITE/$name" ] || fail "site-packages has a top-level '$name' ($SITE/$name)"
done
cd "$WORK/elsewhere"
expect 0 where -- "$VPY" -c 'import bft; print(bft.__file__)'
shows where "$SITE/bft/__init__.py"

step "bft run skype-2007: the cascade collapses (exit 1)"
expect 1 skype -- "$BFT" run skype-2007
shows skype "scenario skype-2007: naive-reconnect"
shows skype "recovers       liveness  VIOLATED"
step "bft list scenarios, bft lab list"
expect 0 scenarios -- "$BFT" list scenarios
shows scenarios "skype-2007"
shows scenarios "pbft-normal"
expect 0 labs -- "$BFT" lab list
labs="$(grep -cE '^ *[0-9]+ +[A-Z].* ready$' "$WORK/labs.out" || true)"
[ "$labs" -ge 6 ] || fail "'bft lab list' lists $labs ready labs, expected at least 6"
step "bft lab grade 2 on the skeleton: fails cleanly (exit 1)"
expect 1 grade -- "$BFT" lab grade 2
shows grade "grade: FAIL"
step "bft bench --seeds 1"
expect 0 bench -- "$BFT" bench --seeds 1
shows bench "runs (1 seeds x"

step "installing the example plug-in package examples/bft-bracha"
cp -R "$ROOT/examples/bft-bracha" "$WORK/bft-bracha"
rm -rf "$WORK"/bft-bracha/*.egg-info "$WORK/bft-bracha/build"
expect 0 plugin-install -- "$VPY" -m pip install --quiet "$WORK/bft-bracha[test]"
for name in protocols adversaries; do
    [ ! -e "$SITE/$name" ] || fail "site-packages has a top-level '$name' after the plug-in"
done
[ -f "$SITE/bft_bracha/scenarios/bracha-normal.toml" ] || fail "the plug-in's scenarios were not installed"
expect 0 plugin-list -- "$BFT" list
shows plugin-list "bracha "
shows plugin-list "bracha-split"
shows plugin-list "bracha-normal"
expect 0 plugin-actions -- "$BFT" list actions
shows plugin-actions "bracha-ready"

step "bft run / check / replay / show on the plug-in"
expect 0 plugin-run -- "$BFT" run bracha-split --trace split.jsonl
shows plugin-run "agreement      safety    holds"
expect 0 plugin-show -- "$BFT" show split.jsonl --rounds 0:4
shows plugin-show "bft show: bracha"
expect 0 plugin-check -- "$BFT" check bracha-normal --examples 30
shows plugin-check "no violation in 30 schedules"
shows plugin-check "bracha-ready"
# below n >= 3f+1 (n=3, f=1) one crash stalls every node: a counterexample to replay
expect 1 plugin-weak -- "$BFT" check bracha-normal --nodes 3 --kinds crash --examples 30 \
    --out weak.toml
shows plugin-weak "VIOLATION of validity"
[ -f weak.toml ] || fail "bft check did not write weak.toml"
expect 1 plugin-replay -- "$BFT" replay weak.toml --trace weak.jsonl
shows plugin-replay "replay: the trace digest matches"
expect 0 plugin-show-weak -- "$BFT" show weak.jsonl
shows plugin-show-weak "validity VIOLATED"

step "the plug-in's own tests (against the installed package)"
expect 0 plugin-tests -- "$VPY" -m pytest -q -p no:cacheprovider --rootdir "$WORK/bft-bracha" \
    "$WORK/bft-bracha/tests"
shows plugin-tests " passed"

step "wheel and plug-in: all good"
