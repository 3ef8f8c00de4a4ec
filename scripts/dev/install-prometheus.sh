#!/usr/bin/env bash
# Builds the pinned Prometheus server into .mlops/tools/prometheus/ from the Go module proxy (the
# only place this project's machines can fetch it from). Used by the Prometheus integration test.
set -euo pipefail
cd "$(dirname "$0")/../.."
PROMETHEUS_MODULE_VERSION=v0.316.0 # Prometheus 3.x, as Go module versions number it
target=.mlops/tools/prometheus
if [ -x "$target/prometheus" ]; then
  echo "prometheus already built: $target/prometheus"
  exit 0
fi
mkdir -p "$target"
GOBIN="$PWD/$target" GOFLAGS=-mod=mod go install "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_MODULE_VERSION"
echo "built $target/prometheus"
