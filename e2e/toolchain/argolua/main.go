// argolua runs one Argo CD resource customization script on one object, as Argo CD v3.6.2 runs it, and prints the
// result as JSON: what graygate's tests compare with health_test.yaml and action_test.yaml.
//
//	argolua [-now RFC3339] health    health.lua    object.yaml  → {"status": …, "message": …} (or null)
//	argolua [-now RFC3339] discovery discovery.lua object.yaml  → [{"name": …, "disabled": …, …}, …]
//	argolua [-now RFC3339] action    action.lua    object.yaml  → [{"resource": {…}, "operation": "patch"}, …]
//
// A script that fails prints its error (Argo CD's text) on stderr and exits 1; bad usage exits 2.
//
// Followed: util/lua/lua.go of github.com/argoproj/argo-cd/v3@v3.6.2 (runLuaWithResourceActionParameters,
// ExecuteHealthLua, ExecuteResourceActionDiscovery, ExecuteResourceAction, cleanReturnedObj, decodeValue). Argo CD's
// package itself does build from the Go module proxy (with Go 1.27.3), but it pulls in most of Argo CD and
// Kubernetes: 3.5 to 7 minutes and about 2.8 GB of module and build caches on a fresh machine (measured on a 2-core
// machine on 2026-12-07; see docs/gitops.md), too much for every `make test`. So this program sets up the same
// state with the same libraries; the one deliberate difference is -now, which fixes the clock of the safe os
// library (safeos.go) so an action's output is exact.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"
	luajson "layeh.com/gopher-json"
	"sigs.k8s.io/yaml"
)

// The six health codes gitops-engine knows (pkg/health/health.go); anything else reads as Unknown.
var healthCodes = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true, "Suspended": true, "Missing": true, "Unknown": true,
}

type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// resourceAction mirrors appv1.ResourceAction's JSON (pkg/apis/application/v1alpha1/types.go).
type resourceAction struct {
	Name   string `json:"name,omitempty"`
	Params []struct {
		Name string `json:"name,omitempty"`
	} `json:"params,omitempty"`
	Disabled    bool   `json:"disabled,omitempty"`
	IconClass   string `json:"iconClass,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// impactedResource mirrors util/lua/impacted_resource.go.
type impactedResource struct {
	Resource  map[string]any `json:"resource"`
	Operation string         `json:"operation"`
}

func main() {
	now := flag.String("now", "", "the clock of os.time/os.date, RFC 3339 (default: the real time)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: argolua [-now RFC3339] health|discovery|action SCRIPT OBJECT")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 3 {
		flag.Usage()
		os.Exit(2)
	}
	clock := time.Now
	if *now != "" {
		fixed, err := time.Parse(time.RFC3339, *now)
		if err != nil {
			fmt.Fprintln(os.Stderr, "argolua: -now:", err)
			os.Exit(2)
		}
		clock = func() time.Time { return fixed }
	}
	result, err := run(flag.Arg(0), flag.Arg(1), flag.Arg(2), clock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := json.Marshal(result)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

func run(kind, scriptPath, objectPath string, clock func() time.Time) (any, error) {
	script, err := os.ReadFile(scriptPath)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(objectPath)
	if err != nil {
		return nil, err
	}
	// As Argo CD's script tests read their fixtures (util/lua/health_test.go getObj): YAML → JSON → map.
	obj := map[string]any{}
	if err := yaml.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("%s: %w", objectPath, err)
	}
	switch kind {
	case "health":
		return health(obj, string(script), clock)
	case "discovery":
		return discovery(obj, string(script), clock)
	case "action":
		return action(obj, string(script), clock)
	}
	return nil, fmt.Errorf("argolua: unknown kind %q (health, discovery or action)", kind)
}

// runLua is lua.go's runLuaWithResourceActionParameters with UseOpenLibs false (argocd-cm's default, which
// graygate's patch keeps) and no action parameters: a fresh state with only the package, base and table libraries
// and the safe os, require("os") preloaded, a one-second deadline, `actionParams` and `obj` as globals.
func runLua(obj map[string]any, script string, clock func() time.Time) (*lua.LState, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	libs := []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs(clock)},
	}
	for _, lib := range libs {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			l.Close()
			return nil, err
		}
	}
	l.PreloadModule(lua.OsLibName, safeOsLoader(clock))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("actionParams", l.CreateTable(0, 0))
	l.SetGlobal("obj", decodeValue(l, obj))
	fn, err := l.LoadString(script)
	if err == nil {
		l.Push(fn)
		err = l.PCall(0, lua.MultRet, nil)
	}
	var apiErr *lua.ApiError
	if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
		apiErr.StackTrace = "" // Argo CD drops the stack trace from errors it shows users
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// decodeValue is lua.go's: JSON-shaped Go values to Lua; integers and floats alike become Lua numbers (float64).
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}

// returned runs the script and encodes the table it returns with gopher-json, as every Execute* of lua.go does.
func returned(obj map[string]any, script string, clock func() time.Time) ([]byte, bool, error) {
	l, err := runLua(obj, script, clock)
	if err != nil {
		return nil, false, err
	}
	defer l.Close()
	value := l.Get(-1)
	if value.Type() == lua.LTNil {
		return nil, true, nil
	}
	if value.Type() != lua.LTTable {
		return nil, false, fmt.Errorf("expect table output from Lua script, not %s", value.Type().String())
	}
	encoded, err := luajson.Encode(value)
	return encoded, false, err
}

// health is ExecuteHealthLua: nil for a script returning nil, Unknown for a status outside the six codes.
func health(obj map[string]any, script string, clock func() time.Time) (*healthStatus, error) {
	encoded, isNil, err := returned(obj, script, clock)
	if err != nil || isNil {
		return nil, err
	}
	status := &healthStatus{}
	if err := json.Unmarshal(encoded, status); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return &healthStatus{}, nil // an empty table encodes as [] (lua.go accepts any type error here)
		}
		return nil, err
	}
	if !healthCodes[status.Status] {
		return &healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return status, nil
}

// discovery is ExecuteResourceActionDiscovery for one script, sorted by name (Argo CD's order is a map's).
func discovery(obj map[string]any, script string, clock func() time.Time) ([]resourceAction, error) {
	encoded, isNil, err := returned(obj, script, clock)
	if isNil {
		err = errors.New("expect table output from Lua script, not nil")
	}
	if err != nil {
		return nil, err
	}
	found := []resourceAction{}
	if string(encoded) == "[]" {
		return found, nil
	}
	actions := map[string]any{}
	if err := json.Unmarshal(encoded, &actions); err != nil {
		return nil, fmt.Errorf("error unmarshaling action table: %w", err)
	}
	for name, value := range actions {
		action := resourceAction{Name: name, Disabled: isActionDisabled(value)}
		if _, empty := value.([]any); !empty { // an empty table ({}) encodes as [] and stands for no settings
			again, err := json.Marshal(value)
			if err == nil {
				err = json.Unmarshal(again, &action)
			}
			if err != nil {
				return nil, fmt.Errorf("error unmarshaling resource action: %w", err)
			}
		}
		found = append(found, action)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	return found, nil
}

// isActionDisabled is lua.go's: actions are enabled unless their table says disabled = true.
func isActionDisabled(value any) bool {
	fields, ok := value.(map[string]any)
	if !ok {
		return false
	}
	disabled, ok := fields["disabled"].(bool)
	return ok && disabled
}

// action is ExecuteResourceAction: an object is an old-style action's changed resource (a patch); an array is the
// new-style list of impacted resources. A patched object gets cleanReturnedObj's repair of empty maps.
func action(obj map[string]any, script string, clock func() time.Time) ([]impactedResource, error) {
	encoded, isNil, err := returned(obj, script, clock)
	if isNil {
		err = errors.New("expect table output from Lua script, not nil")
	}
	if err != nil {
		return nil, err
	}
	if len(encoded) < 2 {
		return nil, errors.New("Lua output was not a valid json object or array")
	}
	var impacted []impactedResource
	if encoded[0] == '[' && encoded[len(encoded)-1] == ']' {
		if err := json.Unmarshal(encoded, &impacted); err != nil {
			return nil, err
		}
		for _, one := range impacted {
			if one.Operation != "patch" && one.Operation != "create" {
				return nil, fmt.Errorf("unsupported operation: %q", one.Operation)
			}
		}
	} else {
		changed := map[string]any{}
		if err := json.Unmarshal(encoded, &changed); err != nil {
			return nil, err
		}
		// appv1.UnmarshalToUnstructured decodes through unstructured.Unstructured, which wants a kind.
		if kind, ok := changed["kind"].(string); !ok || kind == "" {
			return nil, fmt.Errorf("Object 'Kind' is missing in '%s'", encoded)
		}
		impacted = []impactedResource{{Resource: changed, Operation: "patch"}}
	}
	for _, one := range impacted {
		if one.Operation == "patch" {
			cleanReturnedObj(one.Resource, obj)
		}
	}
	return impacted, nil
}

// cleanReturnedObj is lua.go's: gopher-json encodes an empty table as [], so where the original held a map, an
// empty array becomes {} again; nested maps and arrays are repaired the same way.
func cleanReturnedObj(changed, original map[string]any) {
	for key, old := range original {
		switch value := changed[key].(type) {
		case map[string]any:
			if oldMap, ok := old.(map[string]any); ok {
				cleanReturnedObj(value, oldMap)
			}
		case []any:
			switch oldValue := old.(type) {
			case map[string]any:
				if len(value) == 0 {
					changed[key] = map[string]any{}
				}
			case []any:
				cleanReturnedArray(value, oldValue)
			}
		}
	}
}

func cleanReturnedArray(changed, original []any) {
	for i := range changed {
		if i >= len(original) {
			return
		}
		switch value := changed[i].(type) {
		case map[string]any:
			if oldMap, ok := original[i].(map[string]any); ok {
				cleanReturnedObj(value, oldMap)
			}
		case []any:
			if oldArray, ok := original[i].([]any); ok {
				cleanReturnedArray(value, oldArray)
			}
		}
	}
}
