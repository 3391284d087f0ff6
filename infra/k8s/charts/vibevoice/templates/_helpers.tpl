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

{{/*
Labels of one component's pods: no chart version, so a chart upgrade that changes nothing in the pods
does not restart them (GPU pods reload their model on a restart). User podLabels never override these.
*/}}
{{- define "vibevoice.podLabels" -}}
{{- $own := fromYaml (printf "%s\napp.kubernetes.io/version: %s\napp.kubernetes.io/part-of: vibevoice" (include "vibevoice.componentSelectorLabels" .) (.root.Chart.AppVersion | quote)) }}
{{- toYaml (merge $own (deepCopy (default dict (index .root.Values .component).podLabels))) }}
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

{{/* An image reference: [registry/]repository@digest, or :tag. (dict "root" $ "image" <values>) */}}
{{- define "vibevoice.imageRef" -}}
{{- $repository := .repository }}
{{- with .root.Values.imageRegistry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository }}
{{- end }}
{{- if .digest }}
{{- printf "%s@%s" $repository .digest }}
{{- else }}
{{- printf "%s:%s" $repository .tag }}
{{- end }}
{{- end }}

{{/*
A component's image: the agent's, or the TTS build the GPU switch selects (the CUDA build on a GPU).
Tags default to the appVersion; rendering fails if the GPU would get the CPU build.
*/}}
{{- define "vibevoice.image" -}}
{{- $image := (index .root.Values .component).image }}
{{- $cpu := include "vibevoice.imageRef" (dict "root" .root "repository" $image.repository "digest" $image.digest "tag" (default .root.Chart.AppVersion $image.tag)) }}
{{- if and (eq .component "tts") .root.Values.tts.gpu.enabled }}
{{- $cuda := $image.cuda }}
{{- $tag := default (printf "%s%s" .root.Chart.AppVersion $cuda.tagSuffix) $cuda.tag }}
{{- $ref := include "vibevoice.imageRef" (dict "root" .root "repository" (default $image.repository $cuda.repository) "digest" $cuda.digest "tag" $tag) }}
{{- if eq $ref $cpu }}
{{- fail (printf "tts.gpu.enabled needs the CUDA build of the TTS image, and tts.image.cuda names the CPU build (%s): set tts.image.cuda.digest, .tag or .tagSuffix" $ref) }}
{{- end }}
{{- $ref }}
{{- else }}
{{- $cpu }}
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

{{/* The ids of securityContext that are set (null leaves one to the platform): (list "runAsUser" ...). */}}
{{- define "vibevoice.securityIds" -}}
{{- $context := .root.Values.securityContext }}
{{- range .keys }}
{{- $id := index $context . }}
{{- if not (kindIs "invalid" $id) }}
{{ . }}: {{ $id }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The pod security context every pod of the chart runs with: non-root, the ids of securityContext (uid
10001 is the images' user; null ones are the platform's, as OpenShift's restricted SCC assigns them).
*/}}
{{- define "vibevoice.podSecurityContext" -}}
runAsNonRoot: true
{{- include "vibevoice.securityIds" (dict "root" . "keys" (list "runAsUser" "runAsGroup" "fsGroup")) }}
fsGroupChangePolicy: {{ .Values.securityContext.fsGroupChangePolicy }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The container security context: read-only root, no privilege escalation, no capabilities. */}}
{{- define "vibevoice.containerSecurityContext" -}}
runAsNonRoot: true
{{- include "vibevoice.securityIds" (dict "root" . "keys" (list "runAsUser" "runAsGroup")) }}
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
{{- $needed := add $shutdown.preStopSeconds $shutdown.drainSeconds $shutdown.graceSeconds 5 }}
{{- $set := $shutdown.terminationGracePeriodSeconds }}
{{- if kindIs "invalid" $set }}
{{- $needed }}
{{- else if lt (int $set) (int $needed) }}
{{- fail (printf "%s.shutdown.terminationGracePeriodSeconds (%v) is shorter than preStop + drain + grace + 5 (%v)" .component $set $needed) }}
{{- else }}
{{- $set }}
{{- end }}
{{- end }}

{{/* The preStop pause (the schema keeps it at 5 s or more: endpoint propagation took up to 4 s). */}}
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
{{- with $tts.gpu.loadStallSeconds }}
# /health answers 503 once the model load has made no progress for this long: liveness restarts it.
VIBEVOICE_TTS_LOAD_STALL_S: {{ . | quote }}
{{- end }}
HF_HOME: {{ include "vibevoice.modelCachePath" . }}
# The weights come from the cache volume only (filled by the init container or beforehand).
HF_HUB_OFFLINE: "1"
# Remote-code modules would be written under HF_HOME, which the service mounts read-only.
HF_MODULES_CACHE: /tmp/hf-modules
{{- else }}
VIBEVOICE_TTS_ENGINE: espeak
{{- end }}
{{- with $tts.maxConcurrency }}
VIBEVOICE_TTS_MAX_CONCURRENCY: {{ . | quote }}
{{- end }}
VIBEVOICE_TTS_MAX_QUEUE: {{ $tts.maxQueue | quote }}
{{- if .Values.auth.enabled }}
VIBEVOICE_TTS_RATE_LIMIT_PER_KEY_RPS: {{ $tts.rateLimit.requestsPerSecond | quote }}
VIBEVOICE_TTS_RATE_LIMIT_BURST: {{ $tts.rateLimit.burst | quote }}
{{- end }}
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
{{- if .Values.auth.enabled }}
VIBEVOICE_AGENT_RATE_LIMIT_PER_MINUTE: {{ $agent.rateLimit.turnsPerMinute | quote }}
VIBEVOICE_AGENT_RATE_LIMIT_BURST: {{ $agent.rateLimit.burst | quote }}
{{- end }}
VIBEVOICE_AGENT_SESSION_TTL_S: {{ $agent.sessionStore.ttlSeconds | quote }}
{{- if $agent.sessionStore.urlSecret.name }}
VIBEVOICE_AGENT_SESSION_STORE_TIMEOUT_S: {{ $agent.sessionStore.timeoutSeconds | quote }}
{{- end }}
VIBEVOICE_AGENT_DRAIN_S: {{ $agent.shutdown.drainSeconds | quote }}
VIBEVOICE_AGENT_GRACE_S: {{ $agent.shutdown.graceSeconds | quote }}
VIBEVOICE_AGENT_LOG_LEVEL: {{ $agent.logLevel | quote }}
{{- end }}

{{/* The Secret holding the LLM's API key (backend openai): the one named, or `<fullname>-llm`. */}}
{{- define "vibevoice.llmSecret" -}}
{{- default (printf "%s-llm" (include "vibevoice.fullname" .) | trunc 63 | trimSuffix "-") .Values.agent.llm.openai.apiKeySecret.name }}
{{- end }}

{{/*
A resource quantity in bytes (a number, for comparisons): plain, decimal (k M G T P E) or binary (Ki ...
Ei) suffixes, as values.schema.json allows them.
*/}}
{{- define "vibevoice.bytes" -}}
{{- $text := toString . }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $text }}
{{- $suffix := trimPrefix $number $text }}
{{- $scale := dict "" 1.0 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 }}
{{- mulf (float64 $number) (index $scale $suffix) }}
{{- end }}

{{/*
How many TTS pods may run at once: replicaCount, or the autoscaler's maximum. Several pods need a cache
each (perReplica) or a claim they can share (ReadWriteMany; ReadOnlyMany when nothing is fetched).
*/}}
{{- define "vibevoice.tts.checkCache" -}}
{{- $tts := .Values.tts }}
{{- $cache := $tts.modelCache }}
{{- $pods := ternary (int $tts.autoscaling.maxReplicas) (int $tts.replicaCount) $tts.autoscaling.enabled }}
{{- $shared := or (has "ReadWriteMany" $cache.accessModes) (and (eq $cache.mode "local") (has "ReadOnlyMany" $cache.accessModes)) }}
{{- if and (eq $cache.type "pvc") (gt $pods 1) (not $shared) }}
{{- fail (printf "%d TTS pods would share one %s model cache claim, which pods on other nodes cannot mount (Multi-Attach): set tts.modelCache.type perReplica (a claim per pod), or accessModes [ReadWriteMany]" $pods (join "/" $cache.accessModes)) }}
{{- end }}
{{- if and (eq $cache.mode "local") (has $cache.type (list "pvc" "perReplica")) }}
{{- fail (printf "tts.modelCache.mode local reads weights put there beforehand, and a claim this chart makes (type %s) starts empty: use type existingClaim with a filled claim, or mode download" $cache.type) }}
{{- end }}
{{- if eq $cache.type "emptyDir" }}
{{- $limit := $tts.resources.limits | default dict }}
{{- $ephemeral := index $limit "ephemeral-storage" }}
{{- $needed := addf (include "vibevoice.bytes" $cache.size) (include "vibevoice.bytes" $tts.tmpSizeLimit) }}
{{- if and $ephemeral (lt (float64 (include "vibevoice.bytes" $ephemeral)) $needed) }}
{{- fail (printf "tts.modelCache.type emptyDir keeps the model (size %v) in the pod's ephemeral storage with /tmp (%v): tts.resources.limits.ephemeral-storage (%v) must cover both, or the pod is evicted mid-download" $cache.size $tts.tmpSizeLimit $ephemeral) }}
{{- end }}
{{- end }}
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

{{/* Where the model cache is mounted (HF_HOME). */}}
{{- define "vibevoice.modelCachePath" -}}
/var/cache/huggingface
{{- end }}

{{/* The existing Secret with the API keys (auth.enabled). */}}
{{- define "vibevoice.authSecret" -}}
{{- required "auth.secretName must name an existing Secret with the API keys when auth.enabled" .Values.auth.secretName }}
{{- end }}

{{/* An env entry read from the auth Secret: (dict "root" $ "name" VAR "key" <key in the Secret>). */}}
{{- define "vibevoice.authEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "vibevoice.authSecret" .root }}
      key: {{ .key }}
{{- end }}

{{/*
The TTS's progress deadline: it must outlast the time a new pod takes to become ready, on a GPU the model
load (gpu.modelLoadSeconds).
*/}}
{{- define "vibevoice.tts.progressDeadline" -}}
{{- $tts := .Values.tts }}
{{- $budget := 0 }}
{{- $deadline := 600 }}
{{- if $tts.gpu.enabled }}
{{- $budget = int $tts.gpu.modelLoadSeconds }}
{{- $deadline = add $budget 300 }}
{{- end }}
{{- if not (kindIs "invalid" $tts.progressDeadlineSeconds) }}
{{- $deadline = int $tts.progressDeadlineSeconds }}
{{- end }}
{{- if le (int $deadline) $budget }}
{{- fail (printf "tts.progressDeadlineSeconds (%v) must exceed the model load budget tts.gpu.modelLoadSeconds (%v)" $deadline $budget) }}
{{- end }}
{{- $deadline }}
{{- end }}

{{/*
A component's Deployment strategy and progress deadline. The agent's is never shorter than the TTS's: an
install or upgrade rolls both, and a deadline the agent alone misses fails the release.
*/}}
{{- define "vibevoice.rollout" -}}
{{- $values := index .root.Values .component }}
{{- $deadline := int (include "vibevoice.tts.progressDeadline" .root) }}
{{- if eq .component "agent" }}
{{- $tts := $deadline }}
{{- if not (kindIs "invalid" $values.progressDeadlineSeconds) }}
{{- $deadline = int $values.progressDeadlineSeconds }}
{{- end }}
{{- if lt $deadline $tts }}
{{- fail (printf "agent.progressDeadlineSeconds (%v) is shorter than the TTS's (%v): a release that rolls both would fail on the agent while the TTS loads" $deadline $tts) }}
{{- end }}
{{- end }}
strategy:
  {{- if eq $values.strategy.type "Recreate" }}
  {{- /* The default rollingUpdate is merged into a user's Recreate; Kubernetes refuses it there. */}}
  type: Recreate
  {{- else }}
  {{- toYaml $values.strategy | nindent 2 }}
  {{- end }}
progressDeadlineSeconds: {{ $deadline }}
{{- end }}

{{/*
Scheduling extras shared by both components' pods: priority class and topology spread constraints (each
constraint selects the component's own pods unless it names a labelSelector).
*/}}
{{- define "vibevoice.podScheduling" -}}
{{- $values := index .root.Values .component }}
{{- with $values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- range . }}
  {{- $constraint := deepCopy . }}
  {{- if not (hasKey $constraint "labelSelector") }}
  {{- $_ := set $constraint "labelSelector" (dict "matchLabels" (fromYaml (include "vibevoice.componentSelectorLabels" $))) }}
  {{- end }}
  - {{- toYaml $constraint | nindent 4 }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
The repositories the init container fetches, as `repo@revision[:pattern,...]` words: the model, then
extraRepos (with the file patterns they are limited to).
*/}}
{{- define "vibevoice.fetchRepos" -}}
{{- $cache := .Values.tts.modelCache }}
{{- if hasPrefix "/" .Values.tts.gpu.model }}
{{- fail "tts.gpu.model is a path, which cannot be downloaded: use tts.modelCache.mode local with a volume that holds it" }}
{{- end }}
{{- $repos := list (printf "%s@%s" .Values.tts.gpu.model $cache.revision) }}
{{- range $cache.extraRepos }}
{{- $word := printf "%s@%s" .repo .revision }}
{{- with .files }}
{{- $word = printf "%s:%s" $word (join "," .) }}
{{- end }}
{{- $repos = append $repos $word }}
{{- end }}
{{- join " " $repos }}
{{- end }}

{{/* The TTS workload's kind: a StatefulSet when each pod has a cache claim of its own. */}}
{{- define "vibevoice.tts.kind" -}}
{{- ternary "StatefulSet" "Deployment" (and .Values.tts.gpu.enabled (eq .Values.tts.modelCache.type "perReplica")) }}
{{- end }}

{{/* The headless Service that governs the TTS StatefulSet. */}}
{{- define "vibevoice.tts.headlessService" -}}
{{- printf "%s-pods" (include "vibevoice.componentName" (dict "root" . "component" "tts")) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The claim of the model cache: the existing one, or the chart's. */}}
{{- define "vibevoice.modelCacheClaim" -}}
{{- $cache := .Values.tts.modelCache }}
{{- if eq $cache.type "existingClaim" }}
{{- required "tts.modelCache.existingClaim must name the claim with tts.modelCache.type existingClaim" $cache.existingClaim }}
{{- else }}
{{- printf "%s-model-cache" (include "vibevoice.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
NetworkPolicy egress to DNS, port 53 only: to networkPolicy.dns.peers, or to any address (kube-dns, or
NodeLocal DNSCache on its link-local node address, which no pod selector matches). Takes networkPolicy.
*/}}
{{- define "vibevoice.dnsEgress" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  {{- with .dns.peers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
A NetworkPolicy egress rule to an endpoint outside the pod's own release: address blocks (IPv4 and IPv6)
and in-cluster peers on TCP ports. A block spanning its whole family also excepts the cluster's own
networks of that family (networkPolicy.clusterNetworks). (dict "policy" networkPolicy "egress" <ipBlocks,
peers, ports> "name" <its values path> "for" <what it reaches>)
*/}}
{{- define "vibevoice.egressRule" -}}
{{- $egress := .egress }}
{{- if not (or $egress.ipBlocks $egress.peers) }}
{{- /* An empty `to` would let the pods reach every address. */}}
{{- fail (printf "%s needs ipBlocks or peers for %s" .name .for) }}
{{- end }}
{{- $clusterNetworks := .policy.clusterNetworks -}}
- to:
    {{- range $egress.ipBlocks }}
    {{- $block := deepCopy . }}
    {{- $family := ternary "6" "4" (contains ":" $block.cidr) }}
    {{- if has $block.cidr (list "0.0.0.0/0" "::/0") }}
    {{- $except := default list $block.except }}
    {{- range $clusterNetworks }}
    {{- if eq (ternary "6" "4" (contains ":" .)) $family }}
    {{- $except = append $except . }}
    {{- end }}
    {{- end }}
    {{- if $except }}
    {{- $_ := set $block "except" ($except | uniq) }}
    {{- end }}
    {{- end }}
    - ipBlock:
        {{- toYaml $block | nindent 8 }}
    {{- end }}
    {{- with $egress.peers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    {{- range $egress.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}
