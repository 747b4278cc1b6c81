// Package charts embeds the Helm charts of this repository so the ragdeploy
// binary carries them.
package charts

import "embed"

// FS holds the charts, each under its directory name (e.g. "ragdeploy").
//
//go:embed all:ragdeploy
var FS embed.FS
