{{/*
Helpers of the monitoring umbrella chart. Subcharts keep their own names (set by fullnameOverride in
values.yaml); these helpers only name and label the umbrella's own objects.
*/}}

{{/* Base name of the umbrella's own objects: the release name, or "<release>-monitoring". */}}
{{- define "monitoring.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels every object of the umbrella carries. */}}
{{- define "monitoring.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: monitoring
{{- end -}}

{{/*
Whether a prometheus-operator object is rendered. Takes a dict with "enabled" (true, false or "auto") and
"root" (the top context). "auto" renders only when the cluster serves monitoring.coreos.com/v1; true renders
always, so that offline `helm template` (no CRDs) still shows the objects.
Returns "true" or "".
*/}}
{{- define "monitoring.operatorObjectEnabled" -}}
{{- $enabled := .enabled -}}
{{- if kindIs "bool" $enabled -}}
{{- if $enabled }}true{{ end -}}
{{- else if eq (toString $enabled) "auto" -}}
{{- if .root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/* The Todo backend selector as text, e.g. app.kubernetes.io/name=todo-backend. */}}
{{- define "monitoring.selectorText" -}}
{{- $pairs := list -}}
{{- range $key, $value := .Values.todoBackend.selector -}}
{{- $pairs = append $pairs (printf "%s=%s" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/*
The name a subchart gives its main objects, worked out the way the charts' own helpers do it:
fullnameOverride; else the release name when it already contains the chart name; else
"<release>-<chart name>". Truncated to "max" characters (63; kube-prometheus-stack uses 26).
Takes a dict: "values" (the subchart's values), "chart" (its name), "release", "max".
*/}}
{{- define "monitoring.subchartFullname" -}}
{{- $values := .values | default dict -}}
{{- if $values.fullnameOverride -}}
{{- $values.fullnameOverride | trunc .max | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .chart $values.nameOverride -}}
{{- if contains $name .release -}}
{{- .release | trunc .max | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .release $name | trunc .max | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}
