#!/usr/bin/env bash
# Script tests: drive a real `bin/ocellus serve` with the preinstalled AWS
# CLI and boto3, as a user would, including a kill -9 and restart.
# Prints "N passed, M failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin/ocellus
[ -x "$BIN" ] || { echo "bin/ocellus missing: run make build"; exit 1; }

WORK=$(mktemp -d /tmp/ocellus-script.XXXXXX)
DATA=$WORK/data
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export OCELLUS_URL=http://127.0.0.1:$PORT
cat >"$WORK/accounts.json" <<JSON
[{"AccountId":"111111111111","AccessKeyId":"AKIDALICE","SecretAccessKey":"alice-secret"},
 {"AccountId":"222222222222","AccessKeyId":"AKIDBOB","SecretAccessKey":"bob-secret"}]
JSON
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=AKIDALICE AWS_SECRET_ACCESS_KEY=alice-secret
PID=""
passed=0; failed=0

cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start_server() {
  "$BIN" serve --addr "127.0.0.1:$PORT" --data-dir "$DATA" --accounts "$WORK/accounts.json" >>"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "$OCELLUS_URL/" && return 0
    sleep 0.1
  done
  echo "server did not start"; cat "$WORK/server.log"; exit 1
}

check() { # check NAME COMMAND...
  local name=$1; shift
  if out=$("$@" 2>&1); then
    passed=$((passed+1)); echo "ok   $name"
  else
    failed=$((failed+1)); echo "FAIL $name"; echo "$out" | tail -n 15 | sed 's/^/     /'
  fi
}

awsx() { aws --endpoint-url "$OCELLUS_URL" "$@"; }

start_server

# --- S3 with the AWS CLI -----------------------------------------------------
head -c 20971520 /dev/urandom >"$WORK/big.bin"
mkdir -p "$WORK/tree/a" "$WORK/tree/b"; echo one >"$WORK/tree/a/1.txt"; echo two >"$WORK/tree/b/2.txt"
check "cli s3 mb" awsx s3 mb s3://script-bucket
check "cli s3 cp 20 MB multipart up" awsx s3 cp "$WORK/big.bin" s3://script-bucket/big/big.bin
check "cli s3 cp down byte-identical" bash -c "aws --endpoint-url $OCELLUS_URL s3 cp s3://script-bucket/big/big.bin '$WORK/big.down' && cmp '$WORK/big.bin' '$WORK/big.down'"
check "cli s3 sync" awsx s3 sync "$WORK/tree" s3://script-bucket/tree
check "cli s3 ls recursive" bash -c "aws --endpoint-url $OCELLUS_URL s3 ls --recursive s3://script-bucket/ | grep -c . | grep -qx 3"
check "cli s3 rm" bash -c "aws --endpoint-url $OCELLUS_URL s3 rm s3://script-bucket/tree/a/1.txt && ! aws --endpoint-url $OCELLUS_URL s3 ls s3://script-bucket/tree/a/1.txt"
check "cli metadata names come back lower-case" bash -c "aws --endpoint-url $OCELLUS_URL s3api put-object --bucket script-bucket --key meta.txt --metadata Meta1=v >/dev/null && aws --endpoint-url $OCELLUS_URL s3api head-object --bucket script-bucket --key meta.txt --query Metadata --output json | tee /dev/stderr | grep -q '\"meta1\": \"v\"'"
check "cli re-create own bucket (us-east-1: 200)" awsx s3api create-bucket --bucket script-bucket
check "cli s3 other account denied" bash -c "! AWS_ACCESS_KEY_ID=AKIDBOB AWS_SECRET_ACCESS_KEY=bob-secret aws --endpoint-url $OCELLUS_URL s3 ls s3://script-bucket/ 2>&1 | tee /dev/stderr | grep -q big"
check "cli s3 cp --sse aws:kms, head-object reports it" bash -c "aws --endpoint-url $OCELLUS_URL s3 cp '$WORK/tree/a/1.txt' s3://script-bucket/enc.txt --sse aws:kms && aws --endpoint-url $OCELLUS_URL s3api head-object --bucket script-bucket --key enc.txt --query ServerSideEncryption --output text | grep -qx aws:kms"
check "cli s3api put/get-object-tagging" bash -c "aws --endpoint-url $OCELLUS_URL s3api put-object-tagging --bucket script-bucket --key enc.txt --tagging 'TagSet=[{Key=team,Value=vision}]' && aws --endpoint-url $OCELLUS_URL s3api get-object-tagging --bucket script-bucket --key enc.txt --query 'TagSet[0].Value' --output text | grep -qx vision"
check "cli s3 cp --acl public-read refused" bash -c "aws --endpoint-url $OCELLUS_URL s3 cp '$WORK/tree/a/1.txt' s3://script-bucket/pub.txt --acl public-read 2>&1 | grep -q AccessControlListNotSupported"

# --- Rekognition with the AWS CLI --------------------------------------------
check "cli create-project" bash -c "awsarn=\$(aws --endpoint-url $OCELLUS_URL rekognition create-project --project-name cli-project --tags team=vision --query ProjectArn --output text) && echo \$awsarn >'$WORK/arn' && [[ \$awsarn == arn:aws:rekognition:us-east-1:111111111111:project/cli-project/* ]]"
ARN=$(cat "$WORK/arn" 2>/dev/null)
for i in 1 2 3 4 5; do awsx rekognition create-project --project-name "cli-page-$i" >/dev/null 2>&1; done
check "cli describe-projects paginates (page size 2)" bash -c "[ \$(aws --endpoint-url $OCELLUS_URL rekognition describe-projects --page-size 2 --query 'length(ProjectDescriptions)') = 6 ]"
check "cli tag-resource / list-tags" bash -c "aws --endpoint-url $OCELLUS_URL rekognition tag-resource --resource-arn '$ARN' --tags env=test && aws --endpoint-url $OCELLUS_URL rekognition list-tags-for-resource --resource-arn '$ARN' --query Tags.env --output text | grep -qx test"
POLICY='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"rekognition:CopyProjectVersion","Resource":"*"}]}'
check "cli put/list project policy" bash -c "aws --endpoint-url $OCELLUS_URL rekognition put-project-policy --project-arn '$ARN' --policy-name share --policy-document '$POLICY' && aws --endpoint-url $OCELLUS_URL rekognition list-project-policies --project-arn '$ARN' --query 'ProjectPolicies[0].PolicyName' --output text | grep -qx share"
check "cli malformed policy refused" bash -c "aws --endpoint-url $OCELLUS_URL rekognition put-project-policy --project-arn '$ARN' --policy-name bad --policy-document 'nope' 2>&1 | grep -q MalformedPolicyDocumentException"
check "cli wrong secret refused" bash -c "AWS_SECRET_ACCESS_KEY=wrong aws --endpoint-url $OCELLUS_URL rekognition describe-projects 2>&1 | grep -q InvalidSignatureException"
check "cli name too long refused" bash -c "aws --endpoint-url $OCELLUS_URL rekognition create-project --project-name \$(printf 'a%.0s' \$(seq 256)) 2>&1 | grep -q InvalidParameterException"

# --- boto3 -------------------------------------------------------------------
check "boto3 suite" python3 tests/boto3_suite.py
check "S3 conformance (boto3 1.43)" python3 tests/s3_conformance.py
check "S3 conformance (Debian boto3 1.26 / botocore 1.29)" /usr/bin/python3 tests/s3_conformance.py
check "boto3 S3 encryption, tagging, refused headers (boto3 $(python3 -c 'import boto3; print(boto3.__version__)'))" env OCELLUS_DATA="$DATA" python3 tests/boto3_s3_security.py
check "boto3 S3 encryption, tagging, refused headers (Debian python3-boto3 $(/usr/bin/python3 -c 'import boto3; print(boto3.__version__)'))" env OCELLUS_DATA="$DATA" /usr/bin/python3 tests/boto3_s3_security.py
check "boto3 model lifecycle (datasets, train, waiters, host, detect, copy, delete)" python3 tests/boto3_lifecycle.py

# --- kill -9 and restart -----------------------------------------------------
SUM=$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=""
start_server
check "after kill -9: project, tags, policy intact" bash -c "aws --endpoint-url $OCELLUS_URL rekognition list-tags-for-resource --resource-arn '$ARN' --query Tags.team --output text | grep -qx vision && aws --endpoint-url $OCELLUS_URL rekognition list-project-policies --project-arn '$ARN' --query 'length(ProjectPolicies)' | grep -qx 1"
check "after kill -9: S3 object intact" bash -c "aws --endpoint-url $OCELLUS_URL s3 cp s3://script-bucket/big/big.bin - | sha256sum | grep -q $SUM"
check "cli delete-project" bash -c "aws --endpoint-url $OCELLUS_URL rekognition delete-project --project-arn '$ARN' --query Status --output text | grep -qx DELETING && ! aws --endpoint-url $OCELLUS_URL rekognition describe-projects --project-names cli-project --query 'ProjectDescriptions[0]' --output text | grep -q cli-project"

kill -9 "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""

# --- DetectModerationLabels: an empty backbone directory, then a pull --------
mkdir -p "$WORK/backbones"
export OCELLUS_BACKBONE_DIR=$WORK/backbones
start_server
check "boto3 DetectModerationLabels (not installed, pull, bytes, S3, errors)" env OCELLUS_BIN="$BIN" python3 tests/boto3_moderation.py
check "boto3 Custom Moderation adapter (boto3 $(python3 -c 'import boto3; print(boto3.__version__)'): train, waiter, evaluation, detect, refusals)" env OCELLUS_ADAPTER_STATE="$WORK/adapter.json" python3 tests/boto3_adapters.py
check "boto3 Custom Moderation adapter seen by Debian python3-boto3 $(/usr/bin/python3 -c 'import boto3; print(boto3.__version__)') (no adapter members in its model)" env OCELLUS_ADAPTER_STATE="$WORK/adapter.json" /usr/bin/python3 tests/boto3_adapters.py
kill -9 "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""
unset OCELLUS_BACKBONE_DIR

# --- Lookout for Vision with Debian's python3-boto3 (its own server) ---------
check "Lookout for Vision getting-started flow (python3-boto3)" bash tests/run-l4v.sh

echo
echo "script tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
