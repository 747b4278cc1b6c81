{{- define "chromadb.fullname" -}}
{{- printf "%s-chromadb" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "chromadb.selectorLabels" -}}
app.kubernetes.io/name: chromadb
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Pod labels: they change only when what runs changes (no chart version),
so a chart release alone never restarts a pod. */}}
{{- define "chromadb.podLabels" -}}
{{ include "chromadb.selectorLabels" . }}
app.kubernetes.io/version: {{ include "chromadb.version" . | quote }}
app.kubernetes.io/component: vector-store
app.kubernetes.io/part-of: agentic-rag
{{- end -}}

{{- define "chromadb.labels" -}}
{{ include "chromadb.podLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The version label: what runs (the image tag, else its digest), not the chart. */}}
{{- define "chromadb.version" -}}
{{- $img := .Values.image -}}
{{- $v := default .Chart.AppVersion (default ($img.digest | trimPrefix "sha256:" | trunc 12) $img.tag) -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" $v "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* registry/repository:tag or @digest; global.imageRegistry overrides the registry. */}}
{{- define "chromadb.image" -}}
{{- $registry := default .Values.image.registry ((.Values.global).imageRegistry) -}}
{{- $repo := .Values.image.repository -}}
{{- if $registry -}}{{- $repo = printf "%s/%s" $registry $repo -}}{{- end -}}
{{- if .Values.image.digest -}}{{- printf "%s@%s" $repo .Values.image.digest -}}{{- else -}}{{- printf "%s:%s" $repo .Values.image.tag -}}{{- end -}}
{{- end -}}

{{- define "chromadb.size" -}}
{{- $size := index .Values.sizes .Values.size -}}
{{- required (printf "size %q is not one of small, medium, large" .Values.size) $size | toYaml -}}
{{- end -}}
