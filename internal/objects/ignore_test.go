package objects

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestIgnoreRuleMatches(t *testing.T) {
	deploy := Ref{GroupVersionKind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Namespace: "ns", Name: "agentic-rag-api"}
	rule := IgnoreRule{Kind: "Deployment", Name: "agentic-rag-*", Pointers: []string{"/spec/replicas", "/metadata/annotations"}}
	for _, tt := range []struct {
		rule    IgnoreRule
		ref     Ref
		pointer string
		want    bool
	}{
		{rule, deploy, "/spec/replicas", true},
		{rule, deploy, "/metadata/annotations/a", true},
		{rule, deploy, "/spec/replicasX", false},
		{rule, deploy, "/spec/template", false},
		{rule, Ref{GroupVersionKind: schema.GroupVersionKind{Kind: "StatefulSet"}, Name: "agentic-rag-api"}, "/spec/replicas", false},
		{rule, Ref{GroupVersionKind: deploy.GroupVersionKind, Name: "other"}, "/spec/replicas", false},
		{IgnoreRule{Kind: "*", Pointers: []string{"/spec/replicas"}}, deploy, "/spec/replicas", true},
		{IgnoreRule{Pointers: []string{"/spec/replicas"}}, deploy, "/spec/replicas", true},
	} {
		if got := tt.rule.Matches(tt.ref, tt.pointer); got != tt.want {
			t.Errorf("%+v.Matches(%s, %s) = %v; want %v", tt.rule, tt.ref, tt.pointer, got, tt.want)
		}
	}
}
