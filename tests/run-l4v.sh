#!/usr/bin/env bash
# Lookout for Vision script test: Debian's python3-boto3 (botocore 1.29.27,
# which still has the lookoutvision client; apt package python3-boto3) drives
# a real bin/ocellus through AWS's getting-started flow on the cookie data set.
# Uses the ONNX backbone when one is available ($OCELLUS_BACKBONE, else the
# shared mobilenetv2 file), the built-in extractor otherwise.
# Prints "N passed, M failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! /usr/bin/python3 -c 'import boto3' 2>/dev/null; then
  echo "python3-boto3 missing: apt-get install -y python3-boto3"
  echo "0 passed, 1 failed"
  exit 1
fi
if [ -z "${OCELLUS_BACKBONE:-}" ] && [ -f ../shared/models/mobilenetv2-12-int8.onnx ]; then
  export OCELLUS_BACKBONE=$PWD/../shared/models/mobilenetv2-12-int8.onnx
fi
# Keep the SDK from reading the user's AWS configuration.
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
exec /usr/bin/python3 tests/l4v_boto3.py
