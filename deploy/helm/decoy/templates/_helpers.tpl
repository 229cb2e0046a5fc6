{{- define "decoy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name, cut to 52 characters: a CronJob's Jobs append 11 to a 63-character limit. */}}
{{- define "decoy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "decoy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "decoy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "decoy.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "decoy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "decoy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "decoy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "decoy.configMapName" -}}
{{- default (include "decoy.fullname" .) .Values.existingConfigMap }}
{{- end }}

{{- define "decoy.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Pod-level settings shared by the CronJob and the restore Job. */}}
{{- define "decoy.podCommon" -}}
serviceAccountName: {{ include "decoy.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.automountServiceAccountToken }}
restartPolicy: Never
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Volumes every decoy pod has; the restore Job adds the identity. */}}
{{- define "decoy.volumes" -}}
- name: config
  configMap:
    name: {{ include "decoy.configMapName" . }}
- name: tmp
  emptyDir:
    {{- with .Values.tmpVolume.medium }}
    medium: {{ . }}
    {{- end }}
    {{- with .Values.tmpVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The parts of a decoy container that do not depend on the command. Call with
(dict "root" $ "secret" NAME "identity" BOOL).
*/}}
{{- define "decoy.containerCommon" -}}
{{- $root := .root -}}
image: {{ include "decoy.image" $root }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
{{- with $root.Values.securityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
env:
  - name: DECOY_CONFIG
    value: /etc/decoy/decoy.yaml
  - name: DECOY_LOG_FORMAT
    value: {{ $root.Values.logFormat | quote }}
  - name: TMPDIR
    value: /tmp
  {{- if .identity }}
  - name: DECOY_IDENTITY
    value: /etc/decoy/identity/{{ $root.Values.restore.identity.key }}
  {{- end }}
  {{- with $root.Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .secret }}
envFrom:
  - secretRef:
      name: {{ . }}
{{- end }}
volumeMounts:
  - name: config
    mountPath: /etc/decoy/decoy.yaml
    subPath: decoy.yaml
    readOnly: true
  - name: tmp
    mountPath: /tmp
  {{- if .identity }}
  - name: identity
    mountPath: /etc/decoy/identity
    readOnly: true
  {{- end }}
  {{- with $root.Values.extraVolumeMounts }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}
