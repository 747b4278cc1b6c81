{{/* The StatefulSet of one datastore. What differs between datastores comes
from the subchart's own template "<chart>.container": a map with env (a
list), optional args, the probes (startupProbe optional), dataPath (where
the claim is mounted) and optional extraVolumeMounts and extraVolumes. */}}
{{- define "datastore.statefulset" -}}
{{- $c := include (printf "%s.container" .Chart.Name) . | fromYaml -}}
{{- $size := include "datastore.size" . | fromYaml -}}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ include "datastore.fullname" . }}
  namespace: {{ .Release.Namespace }}
  annotations:
    # Accepted kube-score findings; see runAsUser in values.yaml.
    kube-score/ignore: container-security-context-user-group-id,pod-probes-identical
  labels:
    {{- include "datastore.labels" . | nindent 4 }}
spec:
  serviceName: {{ include "datastore.fullname" . }}-headless
  replicas: 1
  selector:
    matchLabels:
      {{- include "datastore.selectorLabels" . | nindent 6 }}
  # Claims outlive the StatefulSet: scale-downs and uninstall keep the data.
  persistentVolumeClaimRetentionPolicy:
    whenDeleted: Retain
    whenScaled: Retain
  template:
    metadata:
      labels:
        {{- include "datastore.podLabels" . | nindent 8 }}
      {{- with .Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with (.Values.global).imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        runAsNonRoot: true
        runAsUser: {{ .Values.runAsUser }}
        runAsGroup: {{ .Values.runAsUser }}
        fsGroup: {{ .Values.runAsUser }}
        seccompProfile:
          type: RuntimeDefault
      containers:
      - name: {{ .Chart.Name }}
        image: {{ include "datastore.image" . | quote }}
        imagePullPolicy: {{ .Values.image.pullPolicy }}
        {{- with get $c "args" }}
        args:
          {{- toYaml . | nindent 10 }}
        {{- end }}
        env:
          {{- toYaml $c.env | nindent 10 }}
        ports:
        - name: {{ include "datastore.portName" . }}
          containerPort: {{ .Values.port }}
        {{- range $probe := list "startupProbe" "livenessProbe" "readinessProbe" }}
        {{- with get $c $probe }}
        {{ $probe }}:
          {{- toYaml . | nindent 10 }}
        {{- end }}
        {{- end }}
        resources:
          {{- toYaml (default (pick $size "requests" "limits") .Values.resources) | nindent 10 }}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: ["ALL"]
        volumeMounts:
        - name: data
          mountPath: {{ required "the container template needs dataPath" $c.dataPath }}
        - name: tmp
          mountPath: /tmp
        {{- with get $c "extraVolumeMounts" }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      volumes:
      - name: tmp
        emptyDir: {}
      {{- with get $c "extraVolumes" }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  volumeClaimTemplates:
  - metadata:
      name: data
      labels:
        {{- include "datastore.selectorLabels" . | nindent 8 }}
    spec:
      accessModes:
        {{- toYaml .Values.persistence.accessModes | nindent 8 }}
      {{- with .Values.persistence.storageClass }}
      storageClassName: {{ . }}
      {{- end }}
      resources:
        requests:
          storage: {{ default $size.storage .Values.persistence.size }}
{{- end -}}
