package render

import (
	"fmt"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
)

// Package writes the chart in dir as <name>-<version>.tgz into outDir
// (subcharts included) and returns the file's path.
func Package(dir, outDir string) (string, error) {
	c, err := loader.LoadDir(dir)
	if err != nil {
		return "", fmt.Errorf("load chart %s: %w", dir, err)
	}
	if err := c.Validate(); err != nil {
		return "", fmt.Errorf("chart %s: %w", dir, err)
	}
	return chartutil.Save(c, outDir)
}
