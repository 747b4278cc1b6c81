{{/* What ChromaDB's container adds to the datastore StatefulSet. */}}
{{- define "chromadb.container" -}}
env:
- name: CHROMA_CONFIG_PATH
  value: /config.yaml
- name: IS_PERSISTENT
  value: "TRUE"
- name: PERSIST_DIRECTORY
  value: /data
- name: CHROMA_SERVER_AUTHN_CREDENTIALS
  valueFrom:
    secretKeyRef:
      name: {{ required "auth.existingSecret is required: create a Secret with the credential (the chart never generates one)" .Values.auth.existingSecret }}
      key: {{ .Values.auth.passwordKey }}
startupProbe:
  httpGet:
    path: /api/v2/heartbeat
    port: http
  periodSeconds: 5
  failureThreshold: 60
livenessProbe:
  httpGet:
    path: /api/v2/heartbeat
    port: http
  periodSeconds: 10
readinessProbe:
  httpGet:
    path: /api/v2/heartbeat
    port: http
  periodSeconds: 5
dataPath: /data
extraVolumeMounts:
- name: config
  mountPath: /config.yaml
  subPath: config.yaml
  readOnly: true
extraVolumes:
- name: config
  configMap:
    name: {{ include "datastore.fullname" . }}
{{- end -}}
