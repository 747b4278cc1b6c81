package objects

import (
	"path"
	"strings"
)

// IgnoreRule ignores JSON pointers (and everything under them) in the
// objects it matches; an empty or "*" kind matches any kind, and name is a
// glob ("*", "agentic-rag-*").
type IgnoreRule struct {
	Kind     string   `json:"kind,omitempty"`
	Name     string   `json:"name,omitempty"`
	Pointers []string `json:"jsonPointers"`
}

// Matches reports whether the rule ignores pointer in the object ref.
func (r IgnoreRule) Matches(ref Ref, pointer string) bool {
	if r.Kind != "" && r.Kind != "*" && r.Kind != ref.Kind {
		return false
	}
	if r.Name != "" {
		if ok, _ := path.Match(r.Name, ref.Name); !ok {
			return false
		}
	}
	for _, p := range r.Pointers {
		if pointer == p || strings.HasPrefix(pointer, p+"/") {
			return true
		}
	}
	return false
}
