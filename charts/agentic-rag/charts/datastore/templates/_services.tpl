{{/* The headless Service the StatefulSet is governed by, and the client Service. */}}
{{- define "datastore.services" -}}
{{- $port := include "datastore.portName" . -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "datastore.fullname" . }}-headless
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "datastore.labels" . | nindent 4 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector:
    {{- include "datastore.selectorLabels" . | nindent 4 }}
  ports:
  - name: {{ $port }}
    port: {{ .Values.port }}
    targetPort: {{ $port }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "datastore.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "datastore.labels" . | nindent 4 }}
spec:
  selector:
    {{- include "datastore.selectorLabels" . | nindent 4 }}
  ports:
  - name: {{ $port }}
    port: {{ .Values.port }}
    targetPort: {{ $port }}
{{- end -}}
