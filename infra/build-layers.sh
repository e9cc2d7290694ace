#!/usr/bin/env bash
# Builds the Lambda artifacts into infra/dist/ (or --out DIR):
#   runtime-layer.zip     the coderipple binary as /opt/bootstrap (provided.al2023, x86_64)
#   agent-pack-layer.zip  the agent pack under /opt/agent-pack
#   ingest.zip, worker.zip  the functions' own packages: one small file each (the handler
#                         setting picks the role; the code is in the runtime layer)
#   manifest.json         every artifact's size and sha256, the git commit, the glibc needed
#
# By default the binary is built with `cargo lambda build --profile lambda` (release,
# size-optimized) and taken from cargo's target directory (CARGO_TARGET_DIR or a cargo
# config's build.target-dir when set, else target/). Without `cargo-lambda` on PATH, the pinned
# version is installed from PyPI (it brings zig) into the ignored .test-fixtures/cargo-lambda
# venv, as scripts/test installs moto. `--bootstrap PATH` packages an existing Linux x86_64
# binary instead (the emulator tests use the one the test run built; the sizes in
# BENCHMARKS.md come from the release build). Either way the binary must need no newer glibc
# than the runtime's.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/infra/dist"
bootstrap=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --bootstrap) bootstrap="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# glibc of provided.al2023 (Amazon Linux 2023).
max_glibc="2.34"

cargo_lambda_version="1.9.2"
if [ -z "$bootstrap" ]; then
  if ! command -v cargo-lambda >/dev/null 2>&1; then
    venv="$root/.test-fixtures/cargo-lambda"
    if ! "$venv/bin/cargo-lambda" lambda --version 2>/dev/null | grep -F "$cargo_lambda_version" >/dev/null; then
      echo "==> installing cargo-lambda==$cargo_lambda_version (with zig) into .test-fixtures/cargo-lambda" >&2
      rm -rf "$venv"
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$cargo_lambda_version"
    fi
    # Its python (with the ziglang package) first too: cargo-lambda finds zig through it.
    export PATH="$venv/bin:$PATH"
  fi
  (cd "$root" && cargo lambda build --profile lambda --locked --bin coderipple --target x86_64-unknown-linux-gnu)
  # Where cargo put it: its target directory as cargo itself resolves it.
  target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps --locked \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  bootstrap="$target_dir/lambda/coderipple/bootstrap"
fi
[ -f "$bootstrap" ] || { echo "no binary at $bootstrap" >&2; exit 1; }

needed="$(objdump -T "$bootstrap" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1 || true)"
if [ -n "$needed" ] && [ "$(printf '%s\n%s\n' "$needed" "$max_glibc" | sort -V | tail -1)" != "$max_glibc" ]; then
  echo "$bootstrap needs GLIBC_$needed; provided.al2023 has $max_glibc" >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$out"
# Debug info is no use in a layer: strip a copy (a debug build shrinks from ~700 MB to ~60 MB).
stripped="$out/.bootstrap"
cp "$bootstrap" "$stripped"
if command -v strip >/dev/null 2>&1; then strip --strip-debug "$stripped"; fi
bootstrap="$stripped"
commit="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"

python3 - "$bootstrap" "$out" "$root" "$commit" "${needed:-none}" <<'PY'
import hashlib, json, os, sys, time, zipfile

bootstrap, out, root, commit, glibc = sys.argv[1:6]
# Fixed timestamps and order: the same inputs make byte-identical zips.
EPOCH = (1980, 1, 1, 0, 0, 0)

def add(z, name, data, mode=0o644):
    info = zipfile.ZipInfo(name, EPOCH)
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, data, compresslevel=9)

def make(name, files):
    path = os.path.join(out, name)
    with zipfile.ZipFile(path, "w") as z:
        for arc, data, mode in sorted(files):
            add(z, arc, data, mode)
    return path

with open(bootstrap, "rb") as f:
    binary = f.read()
artifacts = [make("runtime-layer.zip", [("bootstrap", binary, 0o755)])]

pack_dir = os.path.join(root, "engine", "pack")
pack = []
for dirpath, _, names in os.walk(pack_dir):
    for n in names:
        full = os.path.join(dirpath, n)
        rel = os.path.relpath(full, pack_dir)
        with open(full, "rb") as f:
            pack.append((f"agent-pack/{rel}", f.read(), 0o644))
# An empty layer would deploy without complaint and leave the worker on a pack of nothing.
if not any(name.endswith("pack.toml") for name, _, _ in pack):
    sys.exit(f"no agent pack under {pack_dir}")
artifacts.append(make("agent-pack-layer.zip", pack))

for role in ("ingest", "worker"):
    note = f"CodeRipple {role}: the code is /opt/bootstrap in the runtime layer; _HANDLER={role} picks this role.\n"
    artifacts.append(make(f"{role}.zip", [("HANDLER", note.encode(), 0o644)]))

manifest = {
    "commit": commit,
    "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "runtime": "provided.al2023",
    "architecture": "x86_64",
    "glibc_needed": glibc,
    "bootstrap_bytes": len(binary),
    "artifacts": [],
}
for path in artifacts:
    with open(path, "rb") as f:
        data = f.read()
    manifest["artifacts"].append({
        "file": os.path.basename(path),
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    })
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
for a in manifest["artifacts"]:
    print(f"{a['file']:24} {a['bytes']:>10} bytes  sha256 {a['sha256'][:16]}…")
PY
rm -f "$stripped"
