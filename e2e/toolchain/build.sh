#!/usr/bin/env bash
# Builds the sandbox's control-plane binaries from the Go module proxy into a cache folder, once per pinned version.
# Usage: build.sh CACHE_DIR        (binaries land in CACHE_DIR/bin; a stamp per tool records what it was built from)
#        build.sh CACHE_DIR --peers  (only Flagger and Argo Rollouts with their CRDs, for `make bench-peers`)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=$(mkdir -p "${1:?cache dir}" && cd "$1" && pwd)
bin="$cache/bin"
mkdir -p "$bin"
# shellcheck source=/dev/null
source "$here/versions.env"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

module_version() { # module_version DIR MODULE → the version DIR/go.mod requires
  (cd "$1" && go list -m -f '{{.Version}}' "$2")
}

fresh() { # fresh NAME STAMP → true when NAME was already built from STAMP
  [[ -x "$bin/$1" && -f "$bin/.$1.stamp" && "$(cat "$bin/.$1.stamp")" == "$2" ]]
}

built() { echo "$2" > "$bin/.$1.stamp"; echo "toolchain: built $1 ($2) in $3 s"; }

build_kube() {
  local dir="$here/kube" version stamp start
  version=$(module_version "$dir" k8s.io/kubernetes)
  stamp="$version $(sha256sum < "$dir/go.sum" | cut -c1-16)"
  local minor=${version#v1.}; minor=${minor%%.*}
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    if fresh "$cmd" "$stamp"; then echo "toolchain: $cmd $version is cached"; continue; fi
    start=$SECONDS
    (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$bin/$cmd" "k8s.io/kubernetes/cmd/$cmd")
    built "$cmd" "$stamp" $((SECONDS - start))
  done
}

build_etcd() {
  local dir="$here/etcd" version stamp start
  version=$(module_version "$dir" go.etcd.io/etcd/server/v3)
  stamp="$version $(cat "$dir/go.mod" "$dir/go.sum" "$dir/main.go" | sha256sum | cut -c1-16)"
  if fresh etcd "$stamp"; then echo "toolchain: etcd $version is cached"; return; fi
  start=$SECONDS
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .)
  built etcd "$stamp" $((SECONDS - start))
}

install_tool() { # install_tool NAME PACKAGE VERSION
  if fresh "$1" "$3"; then echo "toolchain: $1 $3 is cached"; return; fi
  local start=$SECONDS
  GOBIN="$bin" go install -trimpath -ldflags "-s -w" "$2@$3"
  built "$1" "$3" $((SECONDS - start))
}

build_istiod() {
  local dir="$here/istio" version stamp start
  version=$(module_version "$dir" istio.io/istio)
  stamp="$version $(cat "$dir/go.mod" "$dir/go.sum" "$dir/main.go" | sha256sum | cut -c1-16)"
  if fresh pilot-discovery "$stamp"; then echo "toolchain: pilot-discovery (istiod) $version is cached"; return; fi
  start=$SECONDS
  # Istio's own build stamps its version here: istiod logs it and reports it (its /version page on the monitoring
  # port, its build metric, the control-plane identifier in every xDS answer); otherwise it says "unknown".
  local pkg=istio.io/istio/pkg/version
  (cd "$dir" && go build -trimpath -ldflags "-s -w -X $pkg.buildVersion=$version -X $pkg.buildStatus=Clean" \
    -o "$bin/pilot-discovery" .)
  built pilot-discovery "$stamp" $((SECONDS - start))
}

build_argolua() { # the Argo CD Lua runner the argocd/ script tests use (gopher-lua, as Argo CD sets it up)
  local dir="$here/argolua" version stamp start
  version=$(module_version "$dir" github.com/yuin/gopher-lua)
  stamp="gopher-lua $version $(cat "$dir/go.mod" "$dir/go.sum" "$dir"/*.go | sha256sum | cut -c1-16)"
  if fresh argolua "$stamp"; then echo "toolchain: argolua (gopher-lua $version) is cached"; return; fi
  start=$SECONDS
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/argolua" .)
  built argolua "$stamp" $((SECONDS - start))
}

fetch_istio_crds() {
  local out="$cache/istio/customresourcedefinitions.gen.yaml" dir
  # The CRDs istiod was built against: the istio.io/api version its snapshot's go.mod requires.
  ISTIO_API_VERSION=$(module_version "$here/istio" istio.io/api)
  if fresh_file "$out" "$ISTIO_API_VERSION"; then echo "toolchain: istio CRDs $ISTIO_API_VERSION are cached"; return; fi
  dir=$(cd "$cache" && go mod download -json "istio.io/api@$ISTIO_API_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -n "$dir" ]] || { echo "toolchain: go mod download istio.io/api@$ISTIO_API_VERSION failed" >&2; exit 1; }
  mkdir -p "$cache/istio"
  # Through a new file: the module cache's copy is read-only, and cp would keep that mode on a half-written file.
  cat "$dir/kubernetes/customresourcedefinitions.gen.yaml" > "$out.tmp"
  mv "$out.tmp" "$out"
  chmod 644 "$out"
  echo "$ISTIO_API_VERSION" > "$out.stamp"
  echo "toolchain: fetched istio CRDs from istio.io/api@$ISTIO_API_VERSION"
}

fetch_gateway_api_crds() {
  local out="$cache/gateway-api" dir kind
  if fresh_file "$out/standard.yaml" "$GATEWAY_API_VERSION"; then
    echo "toolchain: gateway-api CRDs $GATEWAY_API_VERSION are cached"; return
  fi
  dir=$(cd "$cache" && go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" \
    | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -n "$dir" ]] || { echo "toolchain: go mod download sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION failed" >&2; exit 1; }
  mkdir -p "$out"
  : > "$out/standard.yaml.tmp"
  for kind in gatewayclasses gateways httproutes grpcroutes referencegrants; do
    [[ -f "$dir/config/crd/standard/gateway.networking.k8s.io_$kind.yaml" ]] || continue
    { echo "---"; cat "$dir/config/crd/standard/gateway.networking.k8s.io_$kind.yaml"; } >> "$out/standard.yaml.tmp"
  done
  mv "$out/standard.yaml.tmp" "$out/standard.yaml"
  chmod 644 "$out/standard.yaml"
  echo "$GATEWAY_API_VERSION" > "$out/standard.yaml.stamp"
  echo "toolchain: fetched gateway-api CRDs from sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
}

fresh_file() { [[ -f "$1" && -f "$1.stamp" && "$(cat "$1.stamp")" == "$2" ]]; }

module_dir() { # module_dir DIR MODULE → the module cache folder holding the version DIR/go.mod requires
  (cd "$1" && go mod download -json "$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
}

copy_crds() { # copy_crds OUT STAMP FILE... → the files, one YAML stream, written through a new file
  local out=$1 stamp=$2 file
  shift 2
  mkdir -p "$(dirname "$out")"
  : > "$out.tmp"
  for file in "$@"; do { echo "---"; cat "$file"; } >> "$out.tmp"; done
  mv "$out.tmp" "$out"
  chmod 644 "$out"
  echo "$stamp" > "$out.stamp"
}

build_flagger() { # Flagger's controller and its CRDs (artifacts/flagger/crd.yaml), from the version flagger/go.mod pins
  local dir="$here/flagger" module=github.com/fluxcd/flagger version stamp start src
  version=$(module_version "$dir" $module)
  src=$(module_dir "$dir" $module)
  [[ -n "$src" ]] || { echo "toolchain: go mod download $module failed" >&2; exit 1; }
  if fresh_file "$cache/peers/flagger-crds.yaml" "$version"; then echo "toolchain: Flagger CRDs $version are cached"
  else copy_crds "$cache/peers/flagger-crds.yaml" "$version" "$src/artifacts/flagger/crd.yaml"
    echo "toolchain: fetched Flagger CRDs from $module@$version"; fi
  stamp="$version $(cat "$dir/go.mod" "$dir/go.sum" "$dir/tools.go" | sha256sum | cut -c1-16)"
  if fresh flagger "$stamp"; then echo "toolchain: flagger $version is cached"; return; fi
  start=$SECONDS
  (cd "$dir" && go build -trimpath -ldflags "-s -w -X $module/pkg/version.REVISION=$version" \
    -o "$bin/flagger" "$module/cmd/flagger")
  built flagger "$stamp" $((SECONDS - start))
}

build_argo_rollouts() { # the Argo Rollouts controller and its CRDs (manifests/crds), as argo-rollouts/go.mod pins
  local dir="$here/argo-rollouts" module=github.com/argoproj/argo-rollouts version stamp start src
  version=$(module_version "$dir" $module)
  src=$(module_dir "$dir" $module)
  [[ -n "$src" ]] || { echo "toolchain: go mod download $module failed" >&2; exit 1; }
  if fresh_file "$cache/peers/argo-rollouts-crds.yaml" "$version"; then
    echo "toolchain: Argo Rollouts CRDs $version are cached"
  else
    copy_crds "$cache/peers/argo-rollouts-crds.yaml" "$version" "$src"/manifests/crds/*-crd.yaml
    echo "toolchain: fetched Argo Rollouts CRDs from $module@$version"
  fi
  stamp="$version $(cat "$dir/go.mod" "$dir/go.sum" "$dir/tools.go" | sha256sum | cut -c1-16)"
  if fresh rollouts-controller "$stamp"; then echo "toolchain: rollouts-controller $version is cached"; return; fi
  start=$SECONDS
  # As Argo Rollouts' own Makefile stamps it, so the controller reports its release (v1.9.2+unknown: no commit here).
  local pkg=$module/utils/version
  (cd "$dir" && go build -trimpath \
    -ldflags "-s -w -X $pkg.version=${version#v}" \
    -o "$bin/rollouts-controller" "$module/cmd/rollouts-controller")
  built rollouts-controller "$stamp" $((SECONDS - start))
}

if [[ "${2:-}" == --peers ]]; then
  build_flagger
  build_argo_rollouts
  exit 0
fi

fetch_istio_crds
fetch_gateway_api_crds
build_etcd
build_kube
build_istiod
build_argolua
install_tool kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION"
install_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
install_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION"
