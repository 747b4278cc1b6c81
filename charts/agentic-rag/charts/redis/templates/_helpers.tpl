{{- define "redis.fullname" -}}
{{- printf "%s-redis" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "redis.selectorLabels" -}}
app.kubernetes.io/name: redis
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Pod labels: they change only when what runs changes (no chart version),
so a chart release alone never restarts a pod. */}}
{{- define "redis.podLabels" -}}
{{ include "redis.selectorLabels" . }}
app.kubernetes.io/version: {{ include "redis.version" . | quote }}
app.kubernetes.io/component: cache
app.kubernetes.io/part-of: agentic-rag
{{- end -}}

{{- define "redis.labels" -}}
{{ include "redis.podLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The version label: what runs (the image tag, else its digest), not the chart. */}}
{{- define "redis.version" -}}
{{- $img := .Values.image -}}
{{- $v := default .Chart.AppVersion (default ($img.digest | trimPrefix "sha256:" | trunc 12) $img.tag) -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" $v "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* registry/repository:tag or @digest; global.imageRegistry overrides the registry. */}}
{{- define "redis.image" -}}
{{- $registry := default .Values.image.registry ((.Values.global).imageRegistry) -}}
{{- $repo := .Values.image.repository -}}
{{- if $registry -}}{{- $repo = printf "%s/%s" $registry $repo -}}{{- end -}}
{{- if .Values.image.digest -}}{{- printf "%s@%s" $repo .Values.image.digest -}}{{- else -}}{{- printf "%s:%s" $repo .Values.image.tag -}}{{- end -}}
{{- end -}}

{{- define "redis.size" -}}
{{- $size := index .Values.sizes .Values.size -}}
{{- required (printf "size %q is not one of small, medium, large" .Values.size) $size | toYaml -}}
{{- end -}}
