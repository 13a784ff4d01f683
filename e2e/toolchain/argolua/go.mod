// Runs graygate's Argo CD resource customizations (argocd/) the way Argo CD runs them: gopher-lua, the Lua VM
// Argo CD embeds, at the version argo-cd v3.6.2's go.mod requires, with layeh.com/gopher-json (its Lua↔JSON
// conversion) and sigs.k8s.io/yaml (what its own script tests read fixtures with), all at argo-cd v3.6.2's versions.
module graygate.dev/toolchain/argolua

go 1.26.0

require (
	github.com/yuin/gopher-lua v1.1.2
	layeh.com/gopher-json v0.0.0-20190114024228-97fed8db8427
	sigs.k8s.io/yaml v1.6.0
)

require go.yaml.in/yaml/v2 v2.4.4 // indirect
