{{/* What PostgreSQL's container adds to the datastore StatefulSet. */}}
{{- define "postgresql.container" -}}
{{- $ready := printf "pg_isready -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -h 127.0.0.1 -p %v" .Values.port -}}
env:
- name: POSTGRES_USER
  value: {{ .Values.auth.username | quote }}
- name: POSTGRES_DB
  value: {{ .Values.auth.database | quote }}
- name: PGDATA
  value: /var/lib/postgresql/data/pgdata
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ required "auth.existingSecret is required: create a Secret with the credential (the chart never generates one)" .Values.auth.existingSecret }}
      key: {{ .Values.auth.passwordKey }}
startupProbe:
  exec:
    command: ["sh", "-c", {{ $ready | quote }}]
  periodSeconds: 5
  failureThreshold: 60
livenessProbe:
  exec:
    command: ["sh", "-c", {{ $ready | quote }}]
  periodSeconds: 10
  timeoutSeconds: 5
readinessProbe:
  exec:
    command: ["sh", "-c", {{ $ready | quote }}]
  periodSeconds: 5
  timeoutSeconds: 5
dataPath: /var/lib/postgresql/data
extraVolumeMounts:
- name: run
  mountPath: /var/run/postgresql
extraVolumes:
- name: run
  emptyDir: {}
{{- end -}}
