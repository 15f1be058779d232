{{/* Name of the chart, or nameOverride. */}}
{{- define "sscsi.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <release>-<name>, or the release name when it already contains the name, or fullnameOverride. */}}
{{- define "sscsi.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "sscsi.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object (upstream's set, so selectors written for upstream's chart keep matching). */}}
{{- define "sscsi.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
app.kubernetes.io/name: {{ include "sscsi.name" . | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app: {{ include "sscsi.name" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name (.Chart.Version | replace "+" "_") | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* An image reference from {repository, tag, digest}: the digest wins when set. */}}
{{- define "sscsi.image" -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}
{{- end -}}

{{/* kubeletRootDir without a trailing slash. */}}
{{- define "sscsi.kubeletRootDir" -}}
{{- required "linux.kubeletRootDir is required" .Values.linux.kubeletRootDir | trimSuffix "/" -}}
{{- end -}}

{{/* The additional providers directories, without the main one (mounted once). */}}
{{- define "sscsi.additionalProvidersDirs" -}}
{{- $main := .Values.linux.providersDir -}}
{{- $dirs := list -}}
{{- range (.Values.linux.additionalProvidersDirs | default list) -}}
{{- if ne . $main -}}{{- $dirs = append $dirs . -}}{{- end -}}
{{- end -}}
{{- toJson $dirs -}}
{{- end -}}
