// Package envconfig loads the environment files in environments/: the
// release target (name, namespace, kube context) and the chart values.
package envconfig

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// Release is where an environment is deployed.
type Release struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Context   string `json:"context,omitempty"`
}

// Environment is one environments/<env>.yaml.
type Environment struct {
	Release Release        `json:"release"`
	Values  map[string]any `json:"values"`
}

// Load reads an environment file; unknown keys are errors.
func Load(path string) (*Environment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var env Environment
	if err := yaml.UnmarshalStrict(data, &env); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if env.Release.Name == "" || env.Release.Namespace == "" {
		return nil, fmt.Errorf("%s: release.name and release.namespace are required", path)
	}
	return &env, nil
}
