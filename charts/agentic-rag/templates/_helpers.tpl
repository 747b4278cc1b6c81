{{/* Name of the chart: nameOverride, else agentic-rag. */}}
{{- define "agentic-rag.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name, the prefix of every api object: fullnameOverride, else the
release name (40 characters, so that suffixes fit a DNS label). */}}
{{- define "agentic-rag.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "agentic-rag.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agentic-rag.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Pod labels: they change only when what runs changes (no chart version),
so a chart release alone never restarts a pod. */}}
{{- define "agentic-rag.podLabels" -}}
{{ include "agentic-rag.selectorLabels" . }}
app.kubernetes.io/version: {{ include "agentic-rag.version" . | quote }}
app.kubernetes.io/part-of: agentic-rag
{{- end -}}

{{- define "agentic-rag.labels" -}}
{{ include "agentic-rag.podLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* The version label: what runs (the image tag, else its digest), not the chart. */}}
{{- define "agentic-rag.version" -}}
{{- $img := .Values.api.image -}}
{{- $v := default .Chart.AppVersion (default ($img.digest | trimPrefix "sha256:" | trunc 12) $img.tag) -}}
{{- regexReplaceAll "[^A-Za-z0-9_.-]" $v "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "agentic-rag.api.selectorLabels" -}}
{{ include "agentic-rag.selectorLabels" . }}
app.kubernetes.io/component: api
{{- end -}}

{{- define "agentic-rag.api.image" -}}
{{- $registry := default .Values.api.image.registry .Values.global.imageRegistry -}}
{{- $repo := .Values.api.image.repository -}}
{{- if $registry -}}{{- $repo = printf "%s/%s" $registry $repo -}}{{- end -}}
{{- if .Values.api.image.digest -}}{{- printf "%s@%s" $repo .Values.api.image.digest -}}
{{- else -}}{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.api.image.tag) -}}{{- end -}}
{{- end -}}

{{/* The api workload's replicas: under an HPA, its minReplicas, so the
workload never starts on one replica; ragdeploy keeps a higher count the HPA
chose when it applies the chart (a release never shrinks the workload). */}}
{{- define "agentic-rag.api.replicas" -}}
{{- if .Values.api.autoscaling.enabled -}}
{{- .Values.api.autoscaling.minReplicas -}}
{{- else -}}
{{- .Values.api.replicas -}}
{{- end -}}
{{- end -}}

{{/* "true" when the api is a Rollout (blueGreen, canary, or rolling with
checks or a pause: the ragdeploy controller makes its pods), "" when it is a
plain Deployment (rolling without them). */}}
{{- define "agentic-rag.api.isRollout" -}}
{{- if has .Values.api.strategy (list "blueGreen" "canary") }}true{{ end -}}
{{- if eq .Values.api.strategy "rolling" }}{{ with .Values.api.rolling }}{{ if or .batchAnalysis .analysis (kindIs "map" (get . "pause")) }}true{{ end }}{{ end }}{{ end -}}
{{- end -}}

{{/* With blue-green the api's pods are made by the ragdeploy controller
from a Rollout, which kube-score cannot follow: the objects that
select them accept its "selects no pod" check (args: root context, check). */}}
{{- define "agentic-rag.api.unseenPods" -}}
{{- if include "agentic-rag.api.isRollout" .root }}
annotations:
  kube-score/ignore: {{ .check }}
{{- end }}
{{- end -}}

{{- define "agentic-rag.serviceAccountName" -}}
{{- if .Values.api.serviceAccount.create -}}{{- default (printf "%s-api" (include "agentic-rag.fullname" .)) .Values.api.serviceAccount.name -}}
{{- else -}}{{- default "default" .Values.api.serviceAccount.name -}}{{- end -}}
{{- end -}}

{{/* A backend subchart's "name" or "fullname" as the subchart itself
computes it (args: root context, subchart, "name" or "fullname"). */}}
{{- define "agentic-rag.backend" -}}
{{- $ := index . 0 -}}
{{- $sub := index . 1 -}}
{{- include (printf "datastore.%s" (index . 2)) (dict "Release" $.Release "Chart" (dict "Name" $sub) "Values" (index $.Values $sub)) -}}
{{- end -}}

{{/* Backends: the subchart's Service when enabled, else the external endpoint (required). */}}
{{- define "agentic-rag.database.host" -}}
{{- if .Values.postgresql.enabled -}}{{ include "agentic-rag.backend" (list . "postgresql" "fullname") }}{{- else -}}{{ required "externalDatabase.host is required when postgresql.enabled is false" .Values.externalDatabase.host }}{{- end -}}
{{- end -}}
{{- define "agentic-rag.database.port" -}}
{{- if .Values.postgresql.enabled -}}{{ .Values.postgresql.port }}{{- else -}}{{ .Values.externalDatabase.port }}{{- end -}}
{{- end -}}
{{- define "agentic-rag.redis.host" -}}
{{- if .Values.redis.enabled -}}{{ include "agentic-rag.backend" (list . "redis" "fullname") }}{{- else -}}{{ required "externalRedis.host is required when redis.enabled is false" .Values.externalRedis.host }}{{- end -}}
{{- end -}}
{{- define "agentic-rag.redis.port" -}}
{{- if .Values.redis.enabled -}}{{ .Values.redis.port }}{{- else -}}{{ .Values.externalRedis.port }}{{- end -}}
{{- end -}}
{{- define "agentic-rag.chroma.url" -}}
{{- if .Values.chromadb.enabled -}}http://{{ include "agentic-rag.backend" (list . "chromadb" "fullname") }}:{{ .Values.chromadb.port }}{{- else -}}{{ required "externalChroma.url is required when chromadb.enabled is false" .Values.externalChroma.url }}{{- end -}}
{{- end -}}

{{/* secretEnv name secret key: an env var from a Secret key. */}}
{{- define "agentic-rag.secretEnv" -}}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ index . 1 }}
      key: {{ index . 2 }}
{{- end -}}

{{/* The environment every api container gets: backends and credentials. */}}
{{- define "agentic-rag.api.env" -}}
- name: DATABASE_HOST
  value: {{ include "agentic-rag.database.host" . | quote }}
- name: DATABASE_PORT
  value: {{ include "agentic-rag.database.port" . | quote }}
- name: DATABASE_NAME
  value: {{ ternary .Values.postgresql.auth.database .Values.externalDatabase.database .Values.postgresql.enabled | quote }}
- name: DATABASE_USER
  value: {{ ternary .Values.postgresql.auth.username .Values.externalDatabase.username .Values.postgresql.enabled | quote }}
{{- if .Values.postgresql.enabled }}
{{ include "agentic-rag.secretEnv" (list "DATABASE_PASSWORD" .Values.postgresql.auth.existingSecret .Values.postgresql.auth.passwordKey) }}
{{- else }}
{{ include "agentic-rag.secretEnv" (list "DATABASE_PASSWORD" (required "externalDatabase.existingSecret is required when postgresql.enabled is false" .Values.externalDatabase.existingSecret) .Values.externalDatabase.passwordKey) }}
{{- end }}
- name: REDIS_HOST
  value: {{ include "agentic-rag.redis.host" . | quote }}
- name: REDIS_PORT
  value: {{ include "agentic-rag.redis.port" . | quote }}
{{- if .Values.redis.enabled }}
{{ include "agentic-rag.secretEnv" (list "REDIS_PASSWORD" .Values.redis.auth.existingSecret .Values.redis.auth.passwordKey) }}
{{- else }}
{{ include "agentic-rag.secretEnv" (list "REDIS_PASSWORD" (required "externalRedis.existingSecret is required when redis.enabled is false" .Values.externalRedis.existingSecret) .Values.externalRedis.passwordKey) }}
{{- end }}
- name: CHROMA_URL
  value: {{ include "agentic-rag.chroma.url" . | quote }}
{{- if .Values.chromadb.enabled }}
{{ include "agentic-rag.secretEnv" (list "CHROMA_TOKEN" .Values.chromadb.auth.existingSecret .Values.chromadb.auth.passwordKey) }}
{{- else }}
{{ include "agentic-rag.secretEnv" (list "CHROMA_TOKEN" (required "externalChroma.existingSecret is required when chromadb.enabled is false" .Values.externalChroma.existingSecret) .Values.externalChroma.tokenKey) }}
{{- end }}
{{- end -}}

{{- define "agentic-rag.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "agentic-rag.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The api ConfigMap's data; the pod template carries its checksum (of the
data only, so a chart release that changes no value restarts nothing). */}}
{{- define "agentic-rag.api.configData" -}}
{{- range $k, $v := .Values.api.config }}
{{ $k }}: {{ $v | quote }}
{{- end }}
API_PORT: {{ .Values.api.port | quote }}
{{- end -}}

{{/* The api's pod template, shared by the Rollout and the Deployment. */}}
{{- define "agentic-rag.api.podTemplate" -}}
metadata:
  labels:
    {{- include "agentic-rag.podLabels" . | nindent 4 }}
    app.kubernetes.io/component: api
  annotations:
    checksum/config: {{ include "agentic-rag.api.configData" . | sha256sum }}
    {{- with .Values.api.image.created }}
    ragdeploy.io/image-created: {{ . | quote }}
    {{- end }}
    {{- with .Values.api.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "agentic-rag.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.api.serviceAccount.automountToken }}
  enableServiceLinks: false
  {{- with .Values.global.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- include "agentic-rag.podSecurityContext" . | nindent 4 }}
  {{- if lt (int .Values.api.drain.terminationGracePeriodSeconds) (int .Values.api.drain.preStopSeconds) }}
  {{- fail "api.drain.terminationGracePeriodSeconds must be at least api.drain.preStopSeconds: the grace period counts from the same moment" }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.api.drain.terminationGracePeriodSeconds }}
  containers:
  - name: api
    image: {{ include "agentic-rag.api.image" . | quote }}
    imagePullPolicy: {{ .Values.api.image.pullPolicy }}
    ports:
    - name: http
      containerPort: {{ .Values.api.port }}
    envFrom:
    - configMapRef:
        name: {{ include "agentic-rag.fullname" . }}-api
    env:
      {{- include "agentic-rag.api.env" . | nindent 6 }}
    startupProbe:
      httpGet:
        path: {{ .Values.api.probes.path }}
        port: http
      periodSeconds: 2
      failureThreshold: 60
    livenessProbe:
      httpGet:
        path: {{ .Values.api.probes.path }}
        port: http
      periodSeconds: 10
      timeoutSeconds: 3
    readinessProbe:
      httpGet:
        path: {{ default .Values.api.probes.path .Values.api.probes.readinessPath }}
        port: http
      periodSeconds: 5
      timeoutSeconds: 3
    {{- with .Values.api.drain.preStopSeconds }}
    lifecycle:
      preStop:
        sleep:
          seconds: {{ . }}
    {{- end }}
    resources:
      {{- toYaml .Values.api.resources | nindent 6 }}
    securityContext:
      {{- include "agentic-rag.containerSecurityContext" . | nindent 6 }}
    volumeMounts:
    - name: tmp
      mountPath: /tmp
  volumes:
  - name: tmp
    emptyDir: {}
  {{- with .Values.api.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.api.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.api.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* The migration Job's spec. */}}
{{- define "agentic-rag.migration.jobSpec" -}}
backoffLimit: 1
activeDeadlineSeconds: 600
template:
  metadata:
    labels:
      {{- include "agentic-rag.selectorLabels" . | nindent 6 }}
      app.kubernetes.io/component: migration
  spec:
    restartPolicy: Never
    serviceAccountName: {{ include "agentic-rag.serviceAccountName" . }}
    automountServiceAccountToken: false
    securityContext:
      {{- include "agentic-rag.podSecurityContext" . | nindent 6 }}
    containers:
    - name: migrate
      image: {{ include "agentic-rag.api.image" . | quote }}
      command:
        {{- toYaml .Values.api.migration.command | nindent 8 }}
      env:
        {{- include "agentic-rag.api.env" . | nindent 8 }}
      resources:
        {{- toYaml .Values.api.resources | nindent 8 }}
      securityContext:
        {{- include "agentic-rag.containerSecurityContext" . | nindent 8 }}
{{- end -}}
