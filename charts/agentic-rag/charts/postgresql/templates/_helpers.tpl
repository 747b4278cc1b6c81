{{- define "postgresql.fullname" -}}
{{- printf "%s-postgresql" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "postgresql.selectorLabels" -}}
app.kubernetes.io/name: postgresql
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Pod labels: they change only when what runs changes (no chart version),
so a chart release alone never restarts a pod. */}}
{{- define "postgresql.podLabels" -}}
{{ include "postgresql.selectorLabels" . }}
app.kubernetes.io/version: {{ include "postgresql.version" . | quote }}
app.kubernetes.io/component: database
app.kubernetes.io/part-of: agentic-rag
{{- end -}}

{{- define "postgresql.labels" -}}
{{ include "postgresql.podLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The version label: what runs (the image tag, else its digest), not the chart. */}}
{{- define "postgresql.version" -}}
{{- $img := .Values.image -}}
{{- $v := default .Chart.AppVersion (default ($img.digest | trimPrefix "sha256:" | trunc 12) $img.tag) -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" $v "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* registry/repository:tag or @digest; global.imageRegistry overrides the registry. */}}
{{- define "postgresql.image" -}}
{{- $registry := default .Values.image.registry ((.Values.global).imageRegistry) -}}
{{- $repo := .Values.image.repository -}}
{{- if $registry -}}{{- $repo = printf "%s/%s" $registry $repo -}}{{- end -}}
{{- if .Values.image.digest -}}{{- printf "%s@%s" $repo .Values.image.digest -}}{{- else -}}{{- printf "%s:%s" $repo .Values.image.tag -}}{{- end -}}
{{- end -}}

{{- define "postgresql.size" -}}
{{- $size := index .Values.sizes .Values.size -}}
{{- required (printf "size %q is not one of small, medium, large" .Values.size) $size | toYaml -}}
{{- end -}}
