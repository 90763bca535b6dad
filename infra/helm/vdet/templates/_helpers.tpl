{{/* Names: the release name when it contains "vdet" (helm install vdet …), else <release>-vdet. */}}
{{- define "vdet.fullname" -}}
{{- if contains "vdet" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-vdet" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select a role's pods. Call with (dict "root" $ "role" "api"). */}}
{{- define "vdet.selectorLabels" -}}
app.kubernetes.io/name: vdet
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .role }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* Every object's labels: the selector labels plus chart and manager. */}}
{{- define "vdet.labels" -}}
{{ include "vdet.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* The image of a role: app for api/producer/aggregator, worker-cpu or worker-cuda for workers. */}}
{{- define "vdet.image" -}}
{{- $v := .root.Values -}}
{{- $flavour := "app" -}}
{{- if eq .role "worker" -}}{{- $flavour = ternary "worker-cuda" "worker-cpu" $v.worker.gpu -}}{{- end -}}
{{- printf "%s:%s-%s" $v.image.repository $flavour (toString $v.image.version) -}}
{{- end -}}

{{- define "vdet.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.secret.name }}
      key: {{ .key }}
      optional: {{ .optional }}
{{- end -}}

{{/* A probe on the container's http port. */}}
{{- define "vdet.probe" -}}
httpGet:
  path: {{ .path }}
  port: http
periodSeconds: {{ .period }}
timeoutSeconds: 5
failureThreshold: {{ .failures }}
{{- end -}}

{{/*
The container of a role. Call with (dict "root" $ "role" "worker" "resources" .Values.worker.resources
"env" (dict "VDET_EP" "cpu")).
*/}}
{{- define "vdet.container" -}}
{{- $v := .root.Values -}}
{{- $port := ternary 8080 8081 (eq .role "api") -}}
name: {{ .role }}
image: {{ include "vdet.image" . }}
imagePullPolicy: {{ $v.image.pullPolicy }}
args: [{{ .role }}]
ports:
  - name: http
    containerPort: {{ $port }}
envFrom:
  - configMapRef:
      name: {{ include "vdet.fullname" .root }}-config
env:
  {{- include "vdet.secretEnv" (dict "root" .root "name" "VDET_REDIS_PASSWORD" "key" "redis-password" "optional" true) | nindent 2 }}
  {{- if eq .role "api" }}
  {{- include "vdet.secretEnv" (dict "root" .root "name" "VDET_API_TOKEN" "key" "api-token" "optional" false) | nindent 2 }}
  {{- end }}
  {{- if ne .role "worker" }}
  {{- include "vdet.secretEnv" (dict "root" .root "name" "AWS_ACCESS_KEY_ID" "key" "aws-access-key-id" "optional" true) | nindent 2 }}
  {{- include "vdet.secretEnv" (dict "root" .root "name" "AWS_SECRET_ACCESS_KEY" "key" "aws-secret-access-key" "optional" true) | nindent 2 }}
  {{- end }}
  {{- range $name, $value := .env }}
  - name: {{ $name }}
    value: {{ $value | toString | quote }}
  {{- end }}
resources:
  requests:
    {{- toYaml .resources.requests | nindent 4 }}
  {{- $limits := .resources.limits | default dict }}
  {{- if and (eq .role "worker") $v.worker.gpu }}
  {{- $limits = merge (dict "nvidia.com/gpu" (toString $v.worker.gpusPerWorker)) $limits }}
  {{- end }}
  {{- with $limits }}
  limits:
    {{- toYaml . | nindent 4 }}
  {{- end }}
# Model loading (worker) happens before the health server answers: the startup probe allows 5 minutes.
startupProbe:
  {{- include "vdet.probe" (dict "path" "/healthz" "period" 5 "failures" 60) | nindent 2 }}
livenessProbe:
  {{- include "vdet.probe" (dict "path" "/healthz" "period" 20 "failures" 3) | nindent 2 }}
readinessProbe:
  {{- include "vdet.probe" (dict "path" "/readyz" "period" 10 "failures" 3) | nindent 2 }}
securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
# tsx compiles to a cache under /tmp; the root filesystem stays read-only.
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- end -}}

{{/* The pod-level settings every role shares. */}}
{{- define "vdet.podDefaults" -}}
automountServiceAccountToken: false
securityContext:
  runAsNonRoot: true
  seccompProfile:
    type: RuntimeDefault
volumes:
  - name: tmp
    emptyDir: {}
{{- end -}}
