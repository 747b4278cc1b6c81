package localcluster

import (
	"bytes"
	"embed"
)

// stageFiles are the kwok Stage rules: node lifecycle, pod lifecycle with the
// sim.ragdeploy.io/* annotations, and volume provisioning.
//
//go:embed stages/*.yaml
var stageFiles embed.FS

// Pod annotations the kwok stages honor (see stages/pods.yaml).
const (
	// AnnotationReadyAfter delays readiness by a Go duration ("3s"); for Job
	// pods it is the run time before the pod completes.
	AnnotationReadyAfter = "sim.ragdeploy.io/ready-after"
	// AnnotationNeverReady "true" keeps the pod Running and unready.
	AnnotationNeverReady = "sim.ragdeploy.io/never-ready"
	// AnnotationCrash "true" makes the containers crash-loop: the restart
	// count grows and the pod is never ready.
	AnnotationCrash = "sim.ragdeploy.io/crash"
	// AnnotationFail "true" makes a Job pod fail with exit code 1.
	AnnotationFail = "sim.ragdeploy.io/fail"
)

// stageConfig concatenates the embedded stage files into one multi-document
// kwok configuration.
func stageConfig() ([]byte, error) {
	entries, err := stageFiles.ReadDir("stages")
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, e := range entries {
		data, err := stageFiles.ReadFile("stages/" + e.Name())
		if err != nil {
			return nil, err
		}
		if out.Len() > 0 {
			out.WriteString("\n---\n")
		}
		out.Write(data)
	}
	return out.Bytes(), nil
}
