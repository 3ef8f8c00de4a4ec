#!/usr/bin/env bash
# Installs the pinned Python clients that tests use to talk to the prediction server as other
# tools would (the Open Inference Protocol's own HTTP client, tritonclient[http], with numpy) into
# .mlops/tools/python-clients/, for PYTHONPATH. PyPI is reachable from this project's machines.
set -euo pipefail
cd "$(dirname "$0")/../.."
TRITONCLIENT_REQUIREMENT='tritonclient[http]==2.73.0'
target=.mlops/tools/python-clients
stamp="$target/.installed"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$TRITONCLIENT_REQUIREMENT" ]; then
  echo "python clients already installed: $target ($TRITONCLIENT_REQUIREMENT)"
  exit 0
fi
rm -rf "$target.partial"
python3 -m pip install --quiet --disable-pip-version-check --target "$target.partial" "$TRITONCLIENT_REQUIREMENT"
rm -rf "$target"
mv "$target.partial" "$target"
echo "$TRITONCLIENT_REQUIREMENT" > "$stamp"
PYTHONPATH="$target" python3 -c "import tritonclient.http, numpy; print('tritonclient', tritonclient.http.__name__, 'numpy', numpy.__version__)"
