{{/* What Redis's container adds to the datastore StatefulSet. */}}
{{- define "redis.container" -}}
{{- $secret := required "auth.existingSecret is required: create a Secret with the credential (the chart never generates one)" .Values.auth.existingSecret -}}
args: ["sh", "-c", "exec redis-server --port {{ .Values.port }} --appendonly yes --dir /data --requirepass \"$REDIS_PASSWORD\""]
env:
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ .Values.auth.passwordKey }}
- name: REDISCLI_AUTH
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ .Values.auth.passwordKey }}
livenessProbe:
  exec:
    command: ["redis-cli", "-p", "{{ .Values.port }}", "ping"]
  periodSeconds: 10
  timeoutSeconds: 5
readinessProbe:
  exec:
    command: ["redis-cli", "-p", "{{ .Values.port }}", "ping"]
  periodSeconds: 5
  timeoutSeconds: 5
dataPath: /data
{{- end -}}
