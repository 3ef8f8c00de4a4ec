#!/usr/bin/env bash
# Builds the pinned fake-gcs-server (a GCS emulator) into .mlops/tools/fake-gcs-server/ from the Go
# module proxy. The storage tests run every store test against it through STORAGE_EMULATOR_HOST.
set -euo pipefail
cd "$(dirname "$0")/../.."
FAKE_GCS_SERVER_VERSION=v1.56.1
target=.mlops/tools/fake-gcs-server
stamp="$target/VERSION"
if [ -x "$target/fake-gcs-server" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$FAKE_GCS_SERVER_VERSION" ]; then
  echo "fake-gcs-server $FAKE_GCS_SERVER_VERSION already built: $target/fake-gcs-server"
  exit 0
fi
mkdir -p "$target"
GOBIN="$PWD/$target" GOFLAGS=-mod=mod go install "github.com/fsouza/fake-gcs-server@$FAKE_GCS_SERVER_VERSION"
echo "$FAKE_GCS_SERVER_VERSION" >"$stamp"
echo "built $target/fake-gcs-server $FAKE_GCS_SERVER_VERSION"
