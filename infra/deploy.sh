#!/usr/bin/env bash
# Deploys CodeRipple from the artifacts of build-layers.sh:
#   1. uploads them to ARTIFACT_BUCKET (content-addressed keys: a new build never overwrites an old one)
#   2. publishes the runtime and agent pack layer versions (unless this exact content is already
#      the newest version), so every earlier version stays available to rollback.sh
#   3. creates or updates the stack (infra/template.yaml) and waits for it
#   4. prints the webhook URL and the GitHub webhook settings
#
# Usage: infra/deploy.sh STACK ARTIFACT_BUCKET [--dist DIR] [--no-function-url]
# Environment: the AWS CLI's (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, …);
#   WEBHOOK_SECRET_PARAM  SSM SecureString holding the webhook secret (default /coderipple/webhook-secret;
#                         create it first: aws ssm put-parameter --type SecureString --name … --value …)
#   WORKER_TIMEOUT        worker timeout in seconds (default 60; the queue's visibility is 6×)
#   DOC_STRATEGY          store (default), github_direct or github_pr
#   GITHUB_APP_ID         the GitHub App's id (contents through GitHub's API; needed by github_*)
#   GITHUB_APP_KEY_PARAM  SSM SecureString holding the App's private key (default
#                         /coderipple/github-app-key; checked to exist when GITHUB_APP_ID is set)
#   GITHUB_API_URL        GitHub's API (default https://api.github.com; GHES: https://HOST/api/v3)
#   DOCS_BRANCH           the docs branch (default: coderipple/docs, or the default branch for github_direct)
#   WRITER                the LLM writer: none (default) or bedrock (the worker may then invoke WRITER_MODEL)
#   WRITER_MODEL          the Bedrock model id (default amazon.nova-micro-v1:0)
#   WRITER_DAILY_TOKENS   the writer's tokens per repository per day (default 200000)
#   WRITER_DAILY_TOKENS_TOTAL  the writer's tokens per day for all repositories (default 2000000)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dist="$root/infra/dist"
function_url=true
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dist) dist="$2"; shift 2 ;;
    --no-function-url) function_url=false; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ "${#args[@]}" -eq 2 ] || { echo "usage: infra/deploy.sh STACK ARTIFACT_BUCKET [--dist DIR] [--no-function-url]" >&2; exit 2; }
stack="${args[0]}"
bucket="${args[1]}"
param="${WEBHOOK_SECRET_PARAM:-/coderipple/webhook-secret}"
doc_strategy="${DOC_STRATEGY:-store}"
app_id="${GITHUB_APP_ID:-}"
app_key_param="${GITHUB_APP_KEY_PARAM:-/coderipple/github-app-key}"
api_url="${GITHUB_API_URL:-https://api.github.com}"
docs_branch="${DOCS_BRANCH:-}"
writer="${WRITER:-none}"
case "$writer" in
  none|bedrock) ;;
  *) echo "WRITER must be none or bedrock, got '$writer' (an OpenAI-compatible server is for coderipple up)" >&2; exit 2 ;;
esac
case "$doc_strategy" in
  store) ;;
  github_direct|github_pr)
    [ -n "$app_id" ] || { echo "DOC_STRATEGY=$doc_strategy needs GITHUB_APP_ID (and the App's key in GITHUB_APP_KEY_PARAM)" >&2; exit 2; } ;;
  *) echo "DOC_STRATEGY must be store, github_direct or github_pr (got $doc_strategy)" >&2; exit 2 ;;
esac
timeout="${WORKER_TIMEOUT:-60}"
manifest="$dist/manifest.json"
[ -f "$manifest" ] || { echo "no $manifest: run infra/build-layers.sh first" >&2; exit 1; }

sha_of() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(next(a["sha256"] for a in m["artifacts"] if a["file"]==sys.argv[2]))' "$manifest" "$1"; }

if ! aws ssm get-parameter --name "$param" --query Parameter.Name --output text >/dev/null 2>&1; then
  echo "the webhook secret parameter $param does not exist; create it first:" >&2
  echo "  aws ssm put-parameter --name $param --type SecureString --value \"\$(openssl rand -hex 32)\"" >&2
  exit 1
fi

if [ -n "$app_id" ] && ! aws ssm get-parameter --name "$app_key_param" --query Parameter.Name --output text >/dev/null 2>&1; then
  echo "the GitHub App key parameter $app_key_param does not exist; create it first:" >&2
  echo "  aws ssm put-parameter --name $app_key_param --type SecureString --value file://app-private-key.pem" >&2
  exit 1
fi

aws s3api head-bucket --bucket "$bucket" >/dev/null 2>&1 || aws s3 mb "s3://$bucket" >/dev/null
declare -A key
for f in runtime-layer.zip agent-pack-layer.zip ingest.zip worker.zip; do
  sha="$(sha_of "$f")"
  key[$f]="coderipple/${sha:0:16}/$f"
  aws s3 cp --only-show-errors "$dist/$f" "s3://$bucket/${key[$f]}"
done

# Publishes a layer version of zip $2 under name $1 unless the newest version has this content.
publish_layer() {
  local name="$1" file="$2" sha newest
  sha="$(sha_of "$file")"
  newest="$(aws lambda list-layer-versions --layer-name "$name" \
    --query "LayerVersions[?Description=='sha256:$sha'] | [0].LayerVersionArn" --output text 2>/dev/null || true)"
  if [ -n "$newest" ] && [ "$newest" != "None" ]; then
    echo "$newest"
    return
  fi
  aws lambda publish-layer-version --layer-name "$name" --description "sha256:$sha" \
    --content "S3Bucket=$bucket,S3Key=${key[$file]}" \
    --compatible-runtimes provided.al2023 --compatible-architectures x86_64 \
    --query LayerVersionArn --output text
}
runtime_arn="$(publish_layer "$stack-runtime" runtime-layer.zip)"
pack_arn="$(publish_layer "$stack-agent-pack" agent-pack-layer.zip)"
echo "runtime layer:    $runtime_arn"
echo "agent pack layer: $pack_arn"

params=(
  "ParameterKey=ArtifactBucket,ParameterValue=$bucket"
  "ParameterKey=IngestPackageKey,ParameterValue=${key[ingest.zip]}"
  "ParameterKey=WorkerPackageKey,ParameterValue=${key[worker.zip]}"
  "ParameterKey=RuntimeLayerArn,ParameterValue=$runtime_arn"
  "ParameterKey=AgentPackLayerArn,ParameterValue=$pack_arn"
  "ParameterKey=WebhookSecretParameter,ParameterValue=$param"
  "ParameterKey=WorkerTimeoutSeconds,ParameterValue=$timeout"
  "ParameterKey=QueueVisibilityTimeoutSeconds,ParameterValue=$((timeout * 6))"
  "ParameterKey=WorkerDurationAlarmMilliseconds,ParameterValue=$((timeout * 800))"
  "ParameterKey=CreateFunctionUrl,ParameterValue=$function_url"
  "ParameterKey=DocStrategy,ParameterValue=$doc_strategy"
  "ParameterKey=GitHubAppKeyParameter,ParameterValue=$app_key_param"
  "ParameterKey=GitHubApiUrl,ParameterValue=$api_url"
  "ParameterKey=Writer,ParameterValue=$writer"
  "ParameterKey=WriterModel,ParameterValue=${WRITER_MODEL:-amazon.nova-micro-v1:0}"
  "ParameterKey=WriterDailyTokens,ParameterValue=${WRITER_DAILY_TOKENS:-200000}"
  "ParameterKey=WriterDailyTokensTotal,ParameterValue=${WRITER_DAILY_TOKENS_TOTAL:-2000000}"
)
# Empty values stay out (the template's defaults are empty).
[ -z "$app_id" ] || params+=("ParameterKey=GitHubAppId,ParameterValue=$app_id")
[ -z "$docs_branch" ] || params+=("ParameterKey=DocsBranch,ParameterValue=$docs_branch")
template="file://$root/infra/template.yaml"
if aws cloudformation describe-stacks --stack-name "$stack" >/dev/null 2>&1; then
  if out="$(aws cloudformation update-stack --stack-name "$stack" --template-body "$template" \
      --capabilities CAPABILITY_IAM --parameters "${params[@]}" 2>&1)"; then
    aws cloudformation wait stack-update-complete --stack-name "$stack"
  elif grep -q "No updates are to be performed" <<<"$out"; then
    echo "stack $stack: no changes"
  else
    echo "$out" >&2
    exit 1
  fi
else
  aws cloudformation create-stack --stack-name "$stack" --template-body "$template" \
    --capabilities CAPABILITY_IAM --parameters "${params[@]}" >/dev/null
  aws cloudformation wait stack-create-complete --stack-name "$stack"
fi

output() { aws cloudformation describe-stacks --stack-name "$stack" --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text; }

# The functions must run this deploy's layers. CloudFormation sets them; an emulator that
# ignores function layers gets them set here (and the mismatch is reported).
for role in ingest worker; do
  fn="$(output "$(tr '[:lower:]' '[:upper:]' <<<"${role:0:1}")${role:1}FunctionName")"
  current="$(aws lambda get-function-configuration --function-name "$fn" --query 'Layers[].Arn' --output text 2>/dev/null || true)"
  if [ "$current" != "$runtime_arn	$pack_arn" ]; then
    echo "note: $fn had layers [$current]; setting this deploy's layers"
    aws lambda update-function-configuration --function-name "$fn" --layers "$runtime_arn" "$pack_arn" >/dev/null
  fi
done

echo
echo "stack $stack deployed"
for k in QueueUrl DeadLetterQueueUrl TableName BucketName IngestFunctionName WorkerFunctionName AlarmTopicArn; do
  printf '  %-20s %s\n' "$k" "$(output "$k")"
done
url="$( [ "$function_url" = true ] && output WebhookUrl || echo "(no Function URL: --no-function-url)")"
cat <<MSG

GitHub webhook (repository Settings -> Webhooks -> Add webhook):
  Payload URL:   $url
  Content type:  application/json
  Secret:        the value of SSM parameter $param
  Events:        Pushes, Pull requests, Releases, Branch or tag creation
Then check it: infra/validate.sh $stack
MSG
