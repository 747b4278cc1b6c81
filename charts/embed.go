// Package charts embeds the Helm charts of this repository so the ragdeploy
// binary carries them.
package charts

import "embed"

// FS holds the charts, each under its directory name ("ragdeploy",
// "agentic-rag" with its subcharts under agentic-rag/charts).
//
//go:embed all:ragdeploy all:agentic-rag
var FS embed.FS
