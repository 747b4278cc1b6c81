{{- define "chromadb.fullname" -}}
{{- printf "%s-chromadb" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "chromadb.selectorLabels" -}}
app.kubernetes.io/name: chromadb
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "chromadb.labels" -}}
{{ include "chromadb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: vector-store
app.kubernetes.io/part-of: agentic-rag
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
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
