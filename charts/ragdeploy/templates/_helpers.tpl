{{/* Name of the chart: nameOverride, else ragdeploy. */}}
{{- define "ragdeploy.name" -}}
{{- default "ragdeploy" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: fullnameOverride, else the release name, suffixed with the
name unless it already contains it. */}}
{{- define "ragdeploy.fullname" -}}
{{- $name := include "ragdeploy.name" . -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ragdeploy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ragdeploy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Pod labels: they change only when what runs changes (no chart version),
so a chart release alone never restarts a pod. */}}
{{- define "ragdeploy.podLabels" -}}
{{ include "ragdeploy.selectorLabels" . }}
app.kubernetes.io/version: {{ include "ragdeploy.version" . | quote }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: ragdeploy
{{- end -}}

{{- define "ragdeploy.labels" -}}
{{ include "ragdeploy.podLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* The version label: what runs (the image tag, else its digest), not the chart. */}}
{{- define "ragdeploy.version" -}}
{{- $img := .Values.image -}}
{{- $v := default .Chart.AppVersion (default ($img.digest | trimPrefix "sha256:" | trunc 12) $img.tag) -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" $v "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ragdeploy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ragdeploy.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* registry/repository:tag or registry/repository@digest */}}
{{- define "ragdeploy.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}{{- $repo = printf "%s/%s" .Values.image.registry $repo -}}{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}
