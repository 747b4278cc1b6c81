package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
)

// environmentsDirName is the directory holding the environment files.
const environmentsDirName = "environments"

// environmentsDir is dir when given, else the nearest environments/ at or
// above the working directory (found the way git finds .git), so commands
// work from any subdirectory of the repository.
func environmentsDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		candidate := filepath.Join(d, environmentsDirName)
		if st, err := os.Stat(candidate); err == nil && st.IsDir() {
			if rel, err := filepath.Rel(wd, candidate); err == nil {
				return rel, nil
			}
			return candidate, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s/ directory in %s or above it (hint: run from the repository, or pass --environments-dir)", environmentsDirName, wd)
		}
	}
}

// environmentNames lists the environments in dir (one per <name>.yaml;
// <name>.secrets.yaml and the like are not environments).
func environmentNames(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".yaml"); !strings.Contains(name, ".") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// environmentFiles finds the environments directory (see environmentsDir)
// and lists the environments in it.
func environmentFiles(dir string) (string, []string, error) {
	d, err := environmentsDir(dir)
	if err != nil {
		return "", nil, err
	}
	names, err := environmentNames(d)
	return d, names, err
}

// loadEnvironment reads --env: a file path (it ends in .yaml or .yml, or
// names a directory), else the name of an environment in dir. An unknown
// name lists the known ones and suggests the nearest.
func loadEnvironment(dir, env string) (*envconfig.Environment, error) {
	if strings.HasSuffix(env, ".yaml") || strings.HasSuffix(env, ".yml") || strings.ContainsRune(env, os.PathSeparator) {
		return envconfig.Load(env)
	}
	dir, err := environmentsDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--env %s: %w", env, err)
	}
	e, err := envconfig.Load(filepath.Join(dir, env+".yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		return e, err
	}
	names, lerr := environmentNames(dir)
	if lerr != nil || len(names) == 0 {
		return nil, fmt.Errorf("--env %s: no environment files in %s/", env, dir)
	}
	msg := fmt.Sprintf("--env %s: no environment named %q in %s/ (known: %s)", env, env, dir, strings.Join(names, ", "))
	if near := nearest(env, names); near != "" {
		msg += fmt.Sprintf("; did you mean %s?", near)
	}
	return nil, errors.New(msg)
}

// nearest is the name closest to s: one it starts, or one within two
// edits ("" when none is that close).
func nearest(s string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if strings.HasPrefix(n, s) {
			return n
		}
		if d := editDistance(s, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
