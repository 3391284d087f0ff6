{{/*
Helpers of the vibevoice chart. Names follow the `helm create` scaffold, prefixed with the chart's name.
Component-level helpers take (dict "root" $ "component" "tts"|"agent"|"test").
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "vibevoice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: release plus chart name, or fullnameOverride; truncated to 63 characters because some
Kubernetes name fields are limited to that (DNS-1123).
*/}}
{{- define "vibevoice.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "vibevoice.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every resource carries. */}}
{{- define "vibevoice.labels" -}}
helm.sh/chart: {{ include "vibevoice.chart" . }}
{{ include "vibevoice.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: vibevoice
{{- end }}

{{/* Labels that select the release's pods. */}}
{{- define "vibevoice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vibevoice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component's resources. */}}
{{- define "vibevoice.componentLabels" -}}
{{ include "vibevoice.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels that select one component's pods. */}}
{{- define "vibevoice.componentSelectorLabels" -}}
{{ include "vibevoice.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* A component's resource name: <fullname>-<component>. */}}
{{- define "vibevoice.componentName" -}}
{{- printf "%s-%s" (include "vibevoice.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The ServiceAccount a component's pods run as. */}}
{{- define "vibevoice.serviceAccountName" -}}
{{- $serviceAccount := (index .root.Values .component).serviceAccount }}
{{- if $serviceAccount.create }}
{{- default (include "vibevoice.componentName" .) $serviceAccount.name }}
{{- else }}
{{- default "default" $serviceAccount.name }}
{{- end }}
{{- end }}

{{/* A component's image: [registry/]repository@digest, or :tag (appVersion when empty). */}}
{{- define "vibevoice.image" -}}
{{- $image := (index .root.Values .component).image }}
{{- $repository := $image.repository }}
{{- with .root.Values.imageRegistry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository }}
{{- end }}
{{- if $image.digest }}
{{- printf "%s@%s" $repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default .root.Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/* The TTS base URL inside the cluster, which the agent and the test pod call. */}}
{{- define "vibevoice.ttsUrl" -}}
{{- printf "http://%s:%v" (include "vibevoice.componentName" (dict "root" . "component" "tts")) .Values.tts.service.port }}
{{- end }}

{{/* The agent base URL inside the cluster. */}}
{{- define "vibevoice.agentUrl" -}}
{{- printf "http://%s:%v" (include "vibevoice.componentName" (dict "root" . "component" "agent")) .Values.agent.service.port }}
{{- end }}

{{/* One HTTP probe on the container's http port: (dict "path" "/ready" "probe" <probe values>). */}}
{{- define "vibevoice.probe" -}}
httpGet:
  path: {{ .path }}
  port: http
periodSeconds: {{ required "a probe needs periodSeconds" .probe.periodSeconds }}
timeoutSeconds: {{ required "a probe needs timeoutSeconds" .probe.timeoutSeconds }}
failureThreshold: {{ required "a probe needs failureThreshold" .probe.failureThreshold }}
{{- end }}

{{/* The pod security context every pod of the chart runs with (uid 10001 is the images' user). */}}
{{- define "vibevoice.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The container security context: read-only root, no privilege escalation, no capabilities. */}}
{{- define "vibevoice.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The writable /tmp: an emptyDir volume of the given size limit. */}}
{{- define "vibevoice.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ . }}
{{- end }}

{{/* The mount of that /tmp volume. */}}
{{- define "vibevoice.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
Graceful shutdown of a component: a preStop pause, then SIGTERM, after which the service drains and
lets in-flight streams finish; the grace period covers all of it plus 5 seconds to exit.
*/}}
{{- define "vibevoice.terminationGracePeriodSeconds" -}}
{{- $shutdown := (index .root.Values .component).shutdown }}
{{- add $shutdown.preStopSeconds $shutdown.drainSeconds $shutdown.graceSeconds 5 }}
{{- end }}

{{/* The preStop pause. */}}
{{- define "vibevoice.lifecycle" -}}
preStop:
  sleep:
    seconds: {{ (index .root.Values .component).shutdown.preStopSeconds }}
{{- end }}

{{/* The TTS settings (its ConfigMap's data); where it listens is part of the pod spec. */}}
{{- define "vibevoice.tts.config" -}}
{{- $tts := .Values.tts -}}
{{- if $tts.gpu.enabled }}
VIBEVOICE_TTS_ENGINE: vibevoice
VIBEVOICE_TTS_MODEL: {{ required "tts.gpu.model is required when tts.gpu.enabled" $tts.gpu.model | quote }}
VIBEVOICE_TTS_DEVICE: cuda
VIBEVOICE_TTS_MODEL_FAMILY: realtime
HF_HOME: /var/cache/huggingface
{{- else }}
VIBEVOICE_TTS_ENGINE: espeak
{{- end }}
{{- with $tts.maxConcurrency }}
VIBEVOICE_TTS_MAX_CONCURRENCY: {{ . | quote }}
{{- end }}
VIBEVOICE_TTS_MAX_QUEUE: {{ $tts.maxQueue | quote }}
VIBEVOICE_TTS_DRAIN_S: {{ $tts.shutdown.drainSeconds | quote }}
VIBEVOICE_TTS_GRACE_S: {{ $tts.shutdown.graceSeconds | quote }}
VIBEVOICE_TTS_LOG_LEVEL: {{ $tts.logLevel | quote }}
{{- end }}

{{/* The agent settings (its ConfigMap's data); the API key comes from a Secret. */}}
{{- define "vibevoice.agent.config" -}}
{{- $agent := .Values.agent -}}
VIBEVOICE_AGENT_TTS_URL: {{ include "vibevoice.ttsUrl" . | quote }}
VIBEVOICE_AGENT_LLM: {{ $agent.llm.backend | quote }}
{{- if eq $agent.llm.backend "openai" }}
VIBEVOICE_AGENT_OPENAI_BASE_URL: {{ required "agent.llm.openai.baseUrl is required with backend openai" $agent.llm.openai.baseUrl | quote }}
VIBEVOICE_AGENT_OPENAI_MODEL: {{ required "agent.llm.openai.model is required with backend openai" $agent.llm.openai.model | quote }}
{{- end }}
VIBEVOICE_AGENT_MAX_TURNS: {{ $agent.maxTurns | quote }}
VIBEVOICE_AGENT_DRAIN_S: {{ $agent.shutdown.drainSeconds | quote }}
VIBEVOICE_AGENT_GRACE_S: {{ $agent.shutdown.graceSeconds | quote }}
VIBEVOICE_AGENT_LOG_LEVEL: {{ $agent.logLevel | quote }}
{{- end }}

{{/* The GPU limit of the TTS container; the GPU settings are mandatory when the GPU is on. */}}
{{- define "vibevoice.tts.resources" -}}
{{- $tts := .Values.tts -}}
{{- $resources := deepCopy $tts.resources }}
{{- if $tts.gpu.enabled }}
{{- $name := required "tts.gpu.resourceName is required when tts.gpu.enabled" $tts.gpu.resourceName }}
{{- $count := required "tts.gpu.count is required when tts.gpu.enabled" $tts.gpu.count }}
{{- $limits := default dict $resources.limits }}
{{- $_ := set $limits $name $count }}
{{- $_ := set $resources "limits" $limits }}
{{- end }}
{{- toYaml $resources }}
{{- end }}
