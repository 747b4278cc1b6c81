package envconfig_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
)

// base is an environment's values that --set overrides land on.
func base() *envconfig.Environment {
	return &envconfig.Environment{Values: map[string]any{
		"api": map[string]any{"replicas": float64(3), "config": map[string]any{"LOG_LEVEL": "info"}, "hosts": []any{"a", "b"}},
	}}
}

func TestSetOverrides(t *testing.T) {
	tests := []struct {
		set string
		// path and want: the value the override must leave there.
		path []string
		want any
		// err: part of the error, when the override must be refused.
		err string
	}{
		{set: "api.replicas=5", path: []string{"api", "replicas"}, want: int64(5)},
		{set: "api.config.LOG_LEVEL=debug,api.config.NEW=1", path: []string{"api", "config"}, want: map[string]any{"LOG_LEVEL": "debug", "NEW": int64(1)}},
		{set: "api.hosts[1]=c", path: []string{"api", "hosts"}, want: []any{"a", "c"}},
		{set: "api.hosts={x,y,z}", path: []string{"api", "hosts"}, want: []any{"x", "y", "z"}},
		{set: `api.config.a\.b=1`, path: []string{"api", "config", "a.b"}, want: int64(1)},
		{set: "ingress.hosts[0].host=x.example", path: []string{"ingress", "hosts"}, want: []any{map[string]any{"host": "x.example"}}},
		{set: "api..replicas=2", err: `part 2 ("") is not a name`},
		{set: "=foo", err: "has no key"},
		{set: ".a=1", err: `part 1 ("") is not a name`},
		{set: "api.replicas", err: "has no value"},
		{set: "api.replicas=1,", err: "an empty assignment"},
		{set: "api.replicas[0]=1", err: "api.replicas is a number in the environment, not a list"},
		{set: "api.replicas.x=1", err: "api.replicas is a number in the environment, not a map"},
		{set: "api.config[0]=1", err: "api.config is a map in the environment, not a list"},
		{set: "api.hosts.x=1", err: "api.hosts is a list in the environment, not a map"},
		{set: "a=1,a.b=2", err: "both a value and keys"},
		{set: "api.hosts[x]=1", err: "is not a name with optional [index]es"},
		{set: "api.hosts[-1]=1", err: "is not a name with optional [index]es"},
	}
	for _, tt := range tests {
		t.Run(tt.set, func(t *testing.T) {
			env := base()
			got, err := env.MergedValues([]string{tt.set})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.set) {
					t.Fatalf("error %v; want one naming %q and containing %q", err, tt.set, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var v any = got
			for _, k := range tt.path {
				v = v.(map[string]any)[k]
			}
			if !reflect.DeepEqual(v, tt.want) {
				t.Fatalf("%v = %#v; want %#v", tt.path, v, tt.want)
			}
			if !reflect.DeepEqual(env.Values, base().Values) {
				t.Fatal("the environment's own values were modified")
			}
		})
	}
}

// FuzzSet: any --set argument either changes the values or is refused with
// an error naming it; it never panics, never reports a Go type error and is
// never silently ignored.
func FuzzSet(f *testing.F) {
	for _, s := range []string{"api.replicas=2", "api..replicas=2", "=foo", "api.replicas[0]=1", "a={1,2}", `a\.b=c`, "a[0].b[1]=x", "a=b,c=d", "a.b=1,a=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, env := range []*envconfig.Environment{{Values: map[string]any{}}, base()} {
			before := len(env.Values)
			got, err := env.MergedValues([]string{s})
			if err != nil {
				if msg := err.Error(); strings.Contains(msg, "interface") || !strings.Contains(msg, "--set") {
					t.Fatalf("unclear error for %q: %v", s, err)
				}
				continue
			}
			if before == 0 && len(got) == 0 {
				t.Fatalf("--set %q accepted but set nothing", s)
			}
		}
	})
}
