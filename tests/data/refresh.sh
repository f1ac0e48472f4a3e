#!/usr/bin/env bash
# Copy the shared data sets and R reference fits used by the tests into tests/data/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED:-$here/../../../shared}
for f in "$here"/*.csv; do cp "$shared/data/$(basename "$f")" "$f"; done
for f in "$here"/reference/*.json; do cp "$shared/reference/$(basename "$f")" "$f"; done
cp "$shared/data/partially_clustered.csv" "$here/../../examples/data/"
echo "refreshed from $shared"
