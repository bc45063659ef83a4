#!/usr/bin/env bash
# `harness analyze` end to end (CLI start and imports included) against rg, and an older
# checkout against this one, in turns, pinned to one core; then a byte check of findings.json.
#   bench/cli_ab.sh OLD_CHECKOUT BENCH_DIR [ROUNDS]
# BENCH_DIR is what `bench/detect.py --dir BENCH_DIR --keep` left: raw.bin, patterns.txt and
# the run dir detect-bench/. OLD_CHECKOUT needs its C extensions built
# (python setup.py build_ext --inplace there).
set -euo pipefail
old=$(realpath "$1"); bench=$(realpath "$2"); rounds=${3:-1}
here=$(realpath "$(dirname "$0")/..")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
# Import each checkout and nothing else: python -m puts the current directory first on
# sys.path, and the editable install's finder would map `harness` to its own checkout.
mkdir "$work/site"
printf '%s\n' 'import sys' \
  'sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]' \
  > "$work/site/sitecustomize.py"
# both checkouts byte-compiled, as pip install leaves a package (bench/detect.py does the
# same): with PYTHONDONTWRITEBYTECODE set, every start compiled every module from source
python3 -m compileall -q "$old/harness" "$here/harness" > /dev/null
# the interpreter itself, as the installed `harness` script's shebang names it: `python3` may be
# a version manager's shim (pyenv's here: a bash script and a dozen execs, ~40 ms a start)
py=$(python3 -c 'import sys; print(sys.executable)')
cd "$work"
analyze() { # label checkout
  rm -rf run && cp -r "$bench/detect-bench" run
  rm -f run/analysis.sqlite run/findings.json run/destinations.json
  PYTHONPATH="$2:$work/site" /usr/bin/time -f "$1 %e s, peak RSS %M KB" \
    taskset -c 0 "$py" -m harness analyze run > /dev/null 2> err || { cat err; exit 1; }
  tail -1 err
  cp run/findings.json "findings.$1.json"
}
rg_time() {
  /usr/bin/time -f "rg %e s, peak RSS %M KB" taskset -c 0 rg -a -F --count-matches \
    -f "$bench/patterns.txt" "$bench/raw.bin" > /dev/null 2> err; tail -1 err
}
for _ in $(seq "$rounds"); do
  rg_time; analyze old "$old"; analyze new "$here"
done
rg_time
cmp findings.old.json findings.new.json && echo "findings.json identical"
