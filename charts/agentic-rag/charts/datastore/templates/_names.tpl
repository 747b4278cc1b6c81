{{/* The chart's name: nameOverride, else the chart's own. The parent
chart calls these with a context of its own making (Release, Chart.Name and
the subchart's Values), so they read nothing else. */}}
{{- define "datastore.name" -}}
{{- default .Chart.Name (get .Values "nameOverride") | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The full name: fullnameOverride, else <release>-<name>. */}}
{{- define "datastore.fullname" -}}
{{- with get .Values "fullnameOverride" -}}
{{- . | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "datastore.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "datastore.selectorLabels" -}}
app.kubernetes.io/name: {{ include "datastore.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Pod labels: they change only when what runs changes (no chart version),
so a chart release alone never restarts a pod. The component is the
subchart's ragdeploy.io/component annotation. */}}
{{- define "datastore.podLabels" -}}
{{ include "datastore.selectorLabels" . }}
app.kubernetes.io/version: {{ include "datastore.version" . | quote }}
app.kubernetes.io/component: {{ required "the subchart's Chart.yaml needs the annotation ragdeploy.io/component" (index .Chart.Annotations "ragdeploy.io/component") }}
app.kubernetes.io/part-of: agentic-rag
{{- end -}}

{{- define "datastore.labels" -}}
{{ include "datastore.podLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* The version label: what runs (the image tag, else its digest), not the chart. */}}
{{- define "datastore.version" -}}
{{- $img := .Values.image -}}
{{- $v := default .Chart.AppVersion (default ($img.digest | trimPrefix "sha256:" | trunc 12) $img.tag) -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" $v "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* registry/repository:tag or @digest; global.imageRegistry overrides the registry. */}}
{{- define "datastore.image" -}}
{{- $registry := default .Values.image.registry ((.Values.global).imageRegistry) -}}
{{- $repo := .Values.image.repository -}}
{{- if $registry -}}{{- $repo = printf "%s/%s" $registry $repo -}}{{- end -}}
{{- if .Values.image.digest -}}{{- printf "%s@%s" $repo .Values.image.digest -}}{{- else -}}{{- printf "%s:%s" $repo .Values.image.tag -}}{{- end -}}
{{- end -}}

{{/* The requests, limits and storage of .Values.size. */}}
{{- define "datastore.size" -}}
{{- $size := index .Values.sizes .Values.size -}}
{{- required (printf "size %q is not one of small, medium, large" .Values.size) $size | toYaml -}}
{{- end -}}

{{/* The name of the port: the ragdeploy.io/port-name annotation, else the chart's name. */}}
{{- define "datastore.portName" -}}
{{- default .Chart.Name (index .Chart.Annotations "ragdeploy.io/port-name") -}}
{{- end -}}
