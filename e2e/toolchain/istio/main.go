// Builds istiod's pilot-discovery from a pinned snapshot of istio.io/istio, for the sandbox's control plane.
// The proxy serves istio.io/istio only as pseudo-versions: Istio's release tags are not semver-compatible Go tags.
package main

import (
	"os"

	"istio.io/istio/pilot/cmd/pilot-discovery/app"
	"istio.io/istio/pkg/cmd"
)

func main() {
	root := app.NewRootCommand()
	cmd.AddFlags(root)
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
