#!/usr/bin/env bash
# Points both functions of STACK back at the previous runtime layer version (or --to N),
# keeping their agent pack layer, waits for the update, and runs validate.sh.
#
# Usage: infra/rollback.sh STACK [--to VERSION] [--emulator]
# Roll forward the same way (--to a newer version) or by deploying again. The stack's own
# RuntimeLayerArn parameter still names the newer version: the next deploy.sh sets it again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack=""; to=""; validate_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --to) to="$2"; shift 2 ;;
    --emulator) validate_args+=(--emulator); shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) stack="$1"; shift ;;
  esac
done
[ -n "$stack" ] || { echo "usage: infra/rollback.sh STACK [--to VERSION] [--emulator]" >&2; exit 2; }

output() { aws cloudformation describe-stacks --stack-name "$stack" --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text; }
ingest="$(output IngestFunctionName)"; worker="$(output WorkerFunctionName)"
layers="$(aws lambda get-function-configuration --function-name "$worker" --query 'Layers[].Arn' --output text)"
current_runtime="$(tr '\t' '\n' <<<"$layers" | grep ":layer:$stack-runtime:" || true)"
pack="$(tr '\t' '\n' <<<"$layers" | grep -v ":layer:$stack-runtime:" || true)"
[ -n "$current_runtime" ] || { echo "$worker runs no $stack-runtime layer" >&2; exit 1; }
current="${current_runtime##*:}"
versions="$(aws lambda list-layer-versions --layer-name "$stack-runtime" --query 'LayerVersions[].Version' --output text | tr '\t' '\n' | sort -n)"
if [ -z "$to" ]; then
  to="$(awk -v c="$current" '$1 < c' <<<"$versions" | tail -1)"
  [ -n "$to" ] || { echo "no runtime layer version older than $current to roll back to" >&2; exit 1; }
fi
grep -qx "$to" <<<"$versions" || { echo "runtime layer version $to does not exist (have: $(tr '\n' ' ' <<<"$versions"))" >&2; exit 1; }
target="${current_runtime%:*}:$to"
echo "rolling $stack back: runtime layer $current -> $to"
for fn in "$ingest" "$worker"; do
  # shellcheck disable=SC2086 # the pack ARN list is deliberately split
  aws lambda update-function-configuration --function-name "$fn" --layers "$target" $pack >/dev/null
  aws lambda wait function-updated --function-name "$fn"
done
"$root/infra/validate.sh" "$stack" "${validate_args[@]}"
