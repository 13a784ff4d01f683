//go:build tools

// Package tools pins the Flagger command `make bench-peers` builds, so `go mod tidy` keeps its dependencies.
package tools

import _ "github.com/fluxcd/flagger/cmd/flagger"
