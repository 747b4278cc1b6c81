// Package charts embeds the Helm charts of this repository so the ragdeploy
// binary carries them.
package charts

import "embed"

// CRDs holds the CustomResourceDefinitions of the controller chart.
//
//go:embed ragdeploy/crds/*.yaml
var CRDs embed.FS
