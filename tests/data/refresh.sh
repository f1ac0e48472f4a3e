#!/usr/bin/env bash
# Copy the shared data sets and R reference fits used by the tests into tests/data/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED:-$here/../../../shared}
for f in "$here"/*.csv; do cp "$shared/data/$(basename "$f")" "$f"; done
for f in "$here"/reference/*.json; do
  if [[ -e $shared/reference/$(basename "$f") ]]; then cp "$shared/reference/$(basename "$f")" "$f"; fi
done
# References made here, not in ../shared: their R scripts sit beside them (needs R and lme4).
if command -v Rscript >/dev/null; then
  for r in "$here"/reference/*.R; do (cd "$here" && Rscript "reference/$(basename "$r")" >/dev/null); done
fi
for name in partially_clustered ratings_2x2 sleepstudy; do cp "$shared/data/$name.csv" "$here/../../examples/$name/data/"; done
echo "refreshed from $shared"
