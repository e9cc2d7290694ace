#!/usr/bin/env bash
# Post-deploy checks of a CodeRipple stack; prints PASS/FAIL/SKIP per check, exits 1 on any FAIL.
#   stack complete; queue FIFO with its redrive to the FIFO DLQ; queue visibility >= 6x the
#   worker timeout; event source mapping enabled with batch size 10 and ReportBatchItemFailures;
#   both functions on the same runtime and agent pack layer versions; table TTL on expires_at;
#   every alarm present; a signed `ping` to the Function URL answers 200, and GET /health 200.
#
# Usage: infra/validate.sh STACK [--emulator] [--url URL]
#   --emulator  for moto: what it does not implement (alarms, TTL and Function URLs from a
#               template) is reported SKIP instead of FAIL; cfn-lint and checkov cover those.
#   --url URL   ping URL instead of the stack's WebhookUrl output (a custom domain in front
#               of the Function URL; the tests: a local ingest on the stack's resources).
# The ping is signed with the secret from the stack's SSM parameter (read with decryption).
# The secret never lands in a shell variable or an argv (which `ps` shows to every user):
# the AWS CLI prints it into a pipe and python3 reads it from stdin to sign the body.
set -euo pipefail

stack=""
emulator=false
url_override=""
while [ $# -gt 0 ]; do
  case "$1" in
    --emulator) emulator=true; shift ;;
    --url) url_override="${2:?--url needs a URL}"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) stack="$1"; shift ;;
  esac
done
[ -n "$stack" ] || { echo "usage: infra/validate.sh STACK [--emulator] [--url URL]" >&2; exit 2; }

failed=0
pass() { printf 'PASS  %s\n' "$1"; }
fail() { printf 'FAIL  %s\n' "$1"; failed=1; }
gap() { if $emulator; then printf 'SKIP  %s (not implemented by the emulator)\n' "$1"; else fail "$1"; fi; }
check() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi; }

output() { aws cloudformation describe-stacks --stack-name "$stack" --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text; }
param() { aws cloudformation describe-stacks --stack-name "$stack" --query "Stacks[0].Parameters[?ParameterKey=='$1'].ParameterValue" --output text; }

status="$(aws cloudformation describe-stacks --stack-name "$stack" --query 'Stacks[0].StackStatus' --output text)"
case "$status" in
  CREATE_COMPLETE|UPDATE_COMPLETE) pass "stack $stack is $status" ;;
  *) fail "stack $stack is $status"; exit 1 ;;
esac

queue="$(output QueueUrl)"; dlq="$(output DeadLetterQueueUrl)"
# The AWS CLI (v1) sends SQS calls to the queue URL's host; an emulator needs its endpoint given.
sqs() { if [ -n "${AWS_ENDPOINT_URL:-}" ]; then aws sqs --endpoint-url "$AWS_ENDPOINT_URL" "$@"; else aws sqs "$@"; fi; }
qattr() { sqs get-queue-attributes --queue-url "$1" --attribute-names All --query "Attributes.$2" --output text; }
is_fifo() { [ "$(qattr "$1" FifoQueue | tr '[:upper:]' '[:lower:]')" = "true" ]; }
check "events queue is FIFO" is_fifo "$queue"
check "DLQ is FIFO" is_fifo "$dlq"
dlq_arn="$(qattr "$dlq" QueueArn)"
redrive="$(qattr "$queue" RedrivePolicy)"
grep -q "$dlq_arn" <<<"$redrive" && pass "events queue redrives to the DLQ ($redrive)" || fail "events queue redrives to the DLQ (got: $redrive)"
worker="$(output WorkerFunctionName)"; ingest="$(output IngestFunctionName)"
timeout="$(aws lambda get-function-configuration --function-name "$worker" --query Timeout --output text)"
visibility="$(qattr "$queue" VisibilityTimeout)"
[ "$visibility" -ge $((timeout * 6)) ] && pass "queue visibility ${visibility}s >= 6 x worker timeout ${timeout}s" \
  || fail "queue visibility ${visibility}s >= 6 x worker timeout ${timeout}s"

mapping="$(output EventSourceMappingId)"
esm() { aws lambda get-event-source-mapping --uuid "$mapping" --query "$1" --output text; }
state="$(esm State)"
[ "$state" = "Enabled" ] && pass "event source mapping enabled" || fail "event source mapping enabled (state $state)"
[ "$(esm BatchSize)" = "10" ] && pass "event source mapping batch size 10" || fail "event source mapping batch size 10"
esm 'FunctionResponseTypes' | grep -q ReportBatchItemFailures && pass "event source mapping reports batch item failures" \
  || gap "event source mapping reports batch item failures"

layers() { aws lambda get-function-configuration --function-name "$1" --query 'Layers[].Arn' --output text; }
li="$(layers "$ingest")"; lw="$(layers "$worker")"
if [ -n "$li" ] && [ "$li" = "$lw" ] && grep -q ":layer:$stack-runtime:" <<<"$li"; then
  pass "both functions run the same layers: $(tr '\t' ' ' <<<"$li")"
else
  fail "both functions run the same layers (ingest: $li; worker: $lw)"
fi

table="$(output TableName)"
ttl="$(aws dynamodb describe-time-to-live --table-name "$table" --query 'TimeToLiveDescription.TimeToLiveStatus' --output text 2>/dev/null || true)"
[ "$ttl" = "ENABLED" ] && pass "table TTL enabled" || gap "table TTL enabled (status: $ttl)"

alarms="$(aws cloudwatch describe-alarms --alarm-name-prefix "$stack-" --query 'length(MetricAlarms)' --output text)"
[ "$alarms" -ge 7 ] && pass "$alarms alarms present" || gap "alarms present (found $alarms of 7)"

# X-Hub-Signature-256 of the body in $1, keyed with the parameter value read from stdin (the
# secret, or {"current": …, "previous": …} during a rotation: signed with the current one).
sign_from_stdin() {
  python3 -c '
import hashlib, hmac, json, sys
raw = sys.stdin.buffer.read().decode().strip()
if raw.startswith("{"):
    raw = json.loads(raw)["current"]
if not raw:
    sys.exit("the webhook secret parameter is empty")
print("sha256=" + hmac.new(raw.encode(), sys.argv[1].encode(), hashlib.sha256).hexdigest())
' "$1"
}

url="${url_override:-$(output WebhookUrl 2>/dev/null || true)}"
if [ -z "$url" ] || [ "$url" = "None" ]; then
  gap "signed ping to the Function URL (no WebhookUrl output)"
else
  secret_param="$(param WebhookSecretParameter)"
  body='{"zen":"validate","hook_id":0}'
  sig="$(aws ssm get-parameter --name "$secret_param" --with-decryption --query Parameter.Value --output text \
    | sign_from_stdin "$body")"
  code="$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url" -H 'content-type: application/json' \
    -H 'x-github-event: ping' -H "x-github-delivery: validate-$(date +%s)" -H "x-hub-signature-256: $sig" --data "$body")"
  [ "$code" = "200" ] && pass "signed ping answered 200" || fail "signed ping answered $code"
  health="$(curl -s -o /dev/null -w '%{http_code}' "${url%/}/health")"
  [ "$health" = "200" ] && pass "health check answered 200" || fail "health check answered $health"
fi

exit "$failed"
