{{/*
Names. Kubernetes names are limited to 63 characters (DNS labels), so every name
is truncated and stripped of a trailing dash.
*/}}
{{- define "kubetune.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kubetune.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<suffix>, the suffix always kept whole: the prefix is cut to make room. */}}
{{- define "kubetune.componentName" -}}
{{- $root := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- $room := sub 62 (len $suffix) | int -}}
{{- printf "%s-%s" (include "kubetune.fullname" $root | trunc $room | trimSuffix "-") $suffix -}}
{{- end -}}

{{- define "kubetune.operator.fullname" -}}{{ include "kubetune.componentName" (list . "operator") }}{{- end -}}
{{- define "kubetune.api.fullname" -}}{{ include "kubetune.componentName" (list . "api") }}{{- end -}}

{{- define "kubetune.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "kubetune.labels" -}}
helm.sh/chart: {{ include "kubetune.chart" . }}
{{ include "kubetune.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubetune
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "kubetune.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubetune.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component: (list $ "operator"). */}}
{{- define "kubetune.componentLabels" -}}
{{- $root := index . 0 -}}
{{ include "kubetune.labels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "kubetune.componentSelectorLabels" -}}
{{- $root := index . 0 -}}
{{ include "kubetune.selectorLabels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* repository:tag, the tag defaulting to the chart's appVersion: (list $ .Values.operator.image). */}}
{{- define "kubetune.image" -}}
{{- $root := index . 0 -}}
{{- $image := index . 1 -}}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) -}}
{{- end -}}

{{- define "kubetune.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (include "kubetune.operator.fullname" .) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kubetune.api.serviceAccountName" -}}
{{- if .Values.api.serviceAccount.create -}}
{{- default (include "kubetune.api.fullname" .) .Values.api.serviceAccount.name -}}
{{- else -}}
{{- required "api.serviceAccount.name is required when api.serviceAccount.create is false" .Values.api.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret with jwt-secret and admin-password. */}}
{{- define "kubetune.authSecretName" -}}
{{- default (include "kubetune.componentName" (list . "auth")) .Values.auth.existingSecret -}}
{{- end -}}

{{/* The artifact PVC: an existing claim or the one the chart creates. */}}
{{- define "kubetune.artifactClaim" -}}
{{- default (include "kubetune.componentName" (list . "artifacts")) .Values.storage.pvc.existingClaim -}}
{{- end -}}

{{- define "kubetune.s3SecretName" -}}
{{- default (include "kubetune.componentName" (list . "s3")) .Values.storage.s3.existingSecret -}}
{{- end -}}

{{/* The fsspec root the api writes to. */}}
{{- define "kubetune.storageRoot" -}}
{{- if eq .Values.storage.type "s3" -}}
{{- printf "s3://%s/%s" .Values.storage.s3.bucket (trimAll "/" .Values.storage.s3.prefix) | trimSuffix "/" -}}
{{- else -}}
{{- printf "file://%s" .Values.storage.mountPath -}}
{{- end -}}
{{- end -}}

{{/* S3 endpoint, region and credentials for every pod that reads or writes the store. */}}
{{- define "kubetune.s3Env" -}}
{{- if eq .Values.storage.type "s3" }}
{{- with .Values.storage.s3.endpoint }}
- name: AWS_ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.storage.s3.region }}
- name: AWS_DEFAULT_REGION
  value: {{ . | quote }}
{{- end }}
{{- if or .Values.storage.s3.existingSecret .Values.storage.s3.accessKeyId }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "kubetune.s3SecretName" . }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "kubetune.s3SecretName" . }}
      key: AWS_SECRET_ACCESS_KEY
{{- end }}
{{- end }}
{{- end -}}

{{/* Whether the platform holds S3 credentials (rather than relying on the pods' cloud identity). */}}
{{- define "kubetune.s3Credentials" -}}
{{- if and (eq .Values.storage.type "s3") (or .Values.storage.s3.existingSecret .Values.storage.s3.accessKeyId) -}}
true
{{- end -}}
{{- end -}}

{{/* The operator copies the credentials next to each Training and InferenceService (see docs/chart.md). */}}
{{- define "kubetune.operatorObjectStoreEnv" -}}
{{- if include "kubetune.s3Credentials" . }}
- name: KUBETUNE_OPERATOR_OBJECT_STORE_SECRET
  value: {{ include "kubetune.s3SecretName" . | quote }}
{{- with .Values.storage.s3.endpoint }}
- name: KUBETUNE_OPERATOR_OBJECT_STORE_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- with .Values.storage.s3.region }}
- name: KUBETUNE_OPERATOR_OBJECT_STORE_REGION
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The restricted container securityContext every chart pod uses. */}}
{{- define "kubetune.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{- define "kubetune.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runtime.runAsUser }}
runAsGroup: {{ .Values.runtime.runAsUser }}
fsGroup: {{ .Values.runtime.runAsUser }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Contradictory values fail the render with a message that says what to change,
instead of installing something that cannot work.
*/}}
{{- define "kubetune.validate" -}}
{{- if and (gt (int .Values.operator.replicas) 1) (not .Values.operator.leaderElection.enabled) -}}
{{- fail "operator.replicas > 1 needs operator.leaderElection.enabled=true: two operators without a Lease would both reconcile" -}}
{{- end -}}
{{- if eq (int .Values.operator.metricsPort) (int .Values.operator.healthPort) -}}
{{- fail "operator.metricsPort and operator.healthPort must differ" -}}
{{- end -}}
{{- if eq .Values.storage.type "s3" -}}
{{- if not .Values.storage.s3.bucket -}}
{{- fail "storage.type=s3 needs storage.s3.bucket" -}}
{{- end -}}
{{- if and .Values.storage.s3.existingSecret (or .Values.storage.s3.accessKeyId .Values.storage.s3.secretAccessKey) -}}
{{- fail "set either storage.s3.existingSecret or storage.s3.accessKeyId/secretAccessKey, not both" -}}
{{- end -}}
{{- if ne (empty .Values.storage.s3.accessKeyId) (empty .Values.storage.s3.secretAccessKey) -}}
{{- fail "storage.s3.accessKeyId and storage.s3.secretAccessKey go together" -}}
{{- end -}}
{{- if .Values.storage.pvc.existingClaim -}}
{{- fail "storage.pvc.existingClaim is only used with storage.type=pvc" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.auth.existingSecret .Values.auth.adminPassword -}}
{{- fail "set either auth.existingSecret or auth.adminPassword, not both: the existing Secret holds the password" -}}
{{- end -}}
{{- if and .Values.auth.adminPassword (lt (len .Values.auth.adminPassword) 12) -}}
{{- fail "auth.adminPassword must be at least 12 characters (the api refuses shorter ones)" -}}
{{- end -}}
{{- if and .Values.api.ingress.enabled (not .Values.api.enabled) -}}
{{- fail "api.ingress.enabled needs api.enabled" -}}
{{- end -}}
{{- if and .Values.api.enabled .Values.trainers.enabled -}}
{{- if has .Values.api.defaultTrainer (list "lora" "qlora" "full") -}}
{{- if not (get .Values.trainers .Values.api.defaultTrainer).enabled -}}
{{- fail (printf "api.defaultTrainer is %s but trainers.%s.enabled is false" .Values.api.defaultTrainer .Values.api.defaultTrainer) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
