//go:build tools

// Package tools pins the Argo Rollouts command `make bench-peers` builds, so `go mod tidy` keeps its dependencies.
package tools

import _ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
