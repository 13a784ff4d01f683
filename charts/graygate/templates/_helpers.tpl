{{/* Names, labels and the pieces the Deployment (one replica) and the StatefulSet (values.ha) share. */}}

{{- define "graygate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "graygate.fullname" -}}
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

{{- define "graygate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "graygate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "graygate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "graygate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: graygate
{{- end -}}

{{- define "graygate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "graygate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "graygate.image" -}}
{{- $repository := required "image.repository is required: build graygate's image from the repository's Dockerfile, push it to a registry your cluster pulls from, and set it, e.g. --set image.repository=registry.example.com/platform/graygate (README, Installing: The image)" .Values.image.repository -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The rules the operator needs in each namespace it watches: as a ClusterRole (scope.clusterWide) or as one
Role per watched namespace. Each rule names the code that needs it; nothing here deletes, and nothing lists
secrets. ConfigMaps and Secrets are read by name only; the one grant on them not limited to names, create, exists
only with trackConfig.enabled. */}}
{{- define "graygate.namespacedRules" -}}
# Kopf lists and watches releases and patches its finalizer and bookkeeping annotations on them; graygate reads
# them from that watch only (no get: only the CLI reads one release, with its user's own credentials).
- apiGroups: [graygate.dev]
  resources: [canaryreleases]
  verbs: [list, watch, patch]
# graygate writes each release's status.
- apiGroups: [graygate.dev]
  resources: [canaryreleases/status]
  verbs: [patch]
# The Istio router reads a VirtualService and replaces it with new weights (resourceVersion-guarded); it decides
# from a watch-fed cache (list, watch: graygate.kube.caches) and reads again (get) before it writes.
- apiGroups: [networking.istio.io]
  resources: [virtualservices]
  verbs: [get, list, watch, update]
# The Gateway API router does the same with an HTTPRoute.
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [get, list, watch, update]
# Before traffic moves, the DestinationRules that define the release's subsets (graygate.kube.destinationrules).
# Istio also honours rules in the host's namespace and in its root namespace: a namespaced install sees those only
# where it has this Role. Read from a watch-fed cache (list, watch: graygate.kube.caches) where it covers them.
- apiGroups: [networking.istio.io]
  resources: [destinationrules]
  verbs: [list, watch]
# The canary workload's availability.
- apiGroups: [apps]
  resources: [deployments/status]
  verbs: [get]
# A followed workload (graygate.kube.followed): both Deployments read, the primary created and its pod template
# replaced; the canary workload's availability is read from a watch-fed cache of Deployments (list, watch).
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch]
# The followed Deployment, which Git owns, is only ever scaled (the canary between runs is at 0).
- apiGroups: [apps]
  resources: [deployments/scale]
  verbs: [patch]
# One Event per transition.
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
# The namespace's default notification settings, by that one name (graygate.kube.notification_settings).
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [graygate-notifications]
  verbs: [get]
# The GateTemplates a release's analysis.gateRefs name, read by name from the release's namespace when a run starts
# (graygate.kube.gatetemplates).
- apiGroups: [graygate.dev]
  resources: [gatetemplates]
  verbs: [get]
{{- with .Values.secretNames }}
# Gate credentials and the Secrets of followed workloads with trackConfig, by name only (graygate.kube.secrets,
# graygate.kube.followed).
- apiGroups: [""]
  resources: [secrets]
  resourceNames: {{ toJson . }}
  verbs: [get]
{{- end }}
{{- with .Values.configMapNames }}
# CA bundles of Prometheus sources (prometheus.source.ca.configMapRef) and the ConfigMaps of followed workloads
# with trackConfig, by name only (graygate.kube.secrets, graygate.kube.followed).
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: {{ toJson . }}
  verbs: [get]
{{- end }}
{{- if .Values.trackConfig.enabled }}
{{- range $resource, $names := dict "configmaps" .Values.configMapNames "secrets" .Values.secretNames }}
{{- with $names }}
{{- $copies := list }}
{{- range . }}{{ $copies = append $copies (printf "%s-primary" .) }}{{ end }}
# trackConfig (graygate.kube.followed): the primary runs on `<name>-primary` copies of the {{ $resource }} its pod
# template uses, written at each promotion. Creating one cannot be limited by name in Kubernetes RBAC (a create
# request has no name to match yet), so create is granted only behind trackConfig.enabled and only for a kind
# whose originals graygate may read at all; reading and replacing stay limited to the copies of the listed names.
- apiGroups: [""]
  resources: [{{ $resource }}]
  verbs: [create]
# trackConfig: graygate reads its copy and replaces it (resourceVersion-guarded) when the released data differs.
- apiGroups: [""]
  resources: [{{ $resource }}]
  resourceNames: {{ toJson $copies }}
  verbs: [get, update]
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Kopf's peering, for values.ha: list and watch the peering objects, patch only ours. Kopf reads peers from the
watch and writes its keep-alive with a merge patch; it never GETs a peering object. */}}
{{- define "graygate.peeringRules" -}}
# Kopf's peering (values.ha): see every replica, touch only this peering object.
- apiGroups: [kopf.dev]
  resources: [{{ .resource }}]
  verbs: [list, watch]
- apiGroups: [kopf.dev]
  resources: [{{ .resource }}]
  resourceNames: [{{ .name | quote }}]
  verbs: [patch]
{{- end -}}

{{/* The ClusterGateTemplates releases name, read by name when a run starts (graygate.kube.gatetemplates): they
are cluster-scoped, so a namespaced install needs this in its ClusterRole too. Read-only. */}}
{{- define "graygate.clusterTemplateRules" -}}
# The ClusterGateTemplates a release's analysis.gateRefs name, read by name.
- apiGroups: [graygate.dev]
  resources: [clustergatetemplates]
  verbs: [get]
{{- end -}}

{{/* Kopf watches CRD definitions so it notices the CanaryRelease CRD being installed, upgraded or removed while
it runs. Read-only; with the ClusterGateTemplates, the only cluster-scoped permissions of the namespaced mode. */}}
{{- define "graygate.crdRules" -}}
# Kopf notices CRDs being installed, upgraded or removed while it runs.
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  verbs: [list, watch]
{{- end -}}

{{- define "graygate.args" -}}
- run
{{- if .Values.scope.clusterWide }}
- --all-namespaces
{{- else }}
{{- range .Values.scope.namespaces }}
- --namespace={{ . }}
{{- end }}
{{- end }}
- --listen-address=0.0.0.0
- --liveness-port=8080
- --metrics-port={{ if .Values.metrics.enabled }}{{ .Values.metrics.port }}{{ else }}0{{ end }}
- --log-format={{ .Values.logFormat }}
- --tick-interval={{ .Values.tickInterval }}
- --resync-interval={{ .Values.resyncInterval }}
{{- if .Values.ha.enabled }}
- --peering={{ .Values.ha.peering }}
- --priority=$(GRAYGATE_PRIORITY)
- --peering-lifetime={{ .Values.ha.peeringLifetime }}
{{- end }}
{{- with .shard }}
- --shard={{ . }}
{{- end }}
{{- end -}}

{{- define "graygate.podTemplate" -}}
metadata:
  labels:
    {{- include "graygate.selectorLabels" . | nindent 4 }}
    {{- with .shard }}
    graygate.dev/shard: {{ . | quote }}
    {{- end }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "graygate.serviceAccountName" . }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  # Longer than the 10 s Kopf gives a release's daemon to stop, so a tick in flight finishes.
  terminationGracePeriodSeconds: 30
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  containers:
    - name: graygate
      image: {{ include "graygate.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command: [graygate]
      args:
        {{- include "graygate.args" . | nindent 8 }}
      env:
        # graygate signs its Events with the pod's name; Kopf names the replica in the peering object by POD_ID.
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_ID
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        {{- if .Values.ha.enabled }}
        # The StatefulSet ordinal (0, 1, …): a distinct Kopf priority for every replica.
        - name: GRAYGATE_PRIORITY
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
        {{- end }}
        {{- with .Values.prometheus.address }}
        - name: GRAYGATE_PROMETHEUS_URL
          value: {{ . | quote }}
        {{- end }}
        {{- if .Values.prometheus.credentialsSecret }}
        - name: GRAYGATE_PROMETHEUS_CREDENTIALS_DIR
          value: /etc/graygate/prometheus
        {{- end }}
        {{- with .Values.etcd.endpoints }}
        - name: GRAYGATE_ETCD_ENDPOINTS
          value: {{ join "," . | quote }}
        {{- end }}
        {{- if .Values.etcd.tlsSecret }}
        - name: GRAYGATE_ETCD_TLS_DIR
          value: /etc/graygate/etcd
        {{- end }}
        {{- with .Values.probeUrlAllowlist }}
        - name: GRAYGATE_PROBE_URL_ALLOWLIST
          value: {{ join "," . | quote }}
        {{- end }}
      ports:
        - name: liveness
          containerPort: 8080
          protocol: TCP
        {{- if .Values.metrics.enabled }}
        - name: metrics
          containerPort: {{ .Values.metrics.port }}
          protocol: TCP
        {{- end }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: liveness
        initialDelaySeconds: 10
        periodSeconds: 10
        timeoutSeconds: 5
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /healthz
          port: liveness
        periodSeconds: 10
        timeoutSeconds: 5
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        runAsNonRoot: true
        capabilities:
          drop: [ALL]
        seccompProfile:
          type: RuntimeDefault
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if .Values.prometheus.credentialsSecret }}
        - name: prometheus-credentials
          mountPath: /etc/graygate/prometheus
          readOnly: true
        {{- end }}
        {{- if .Values.etcd.tlsSecret }}
        - name: etcd-tls
          mountPath: /etc/graygate/etcd
          readOnly: true
        {{- end }}
  volumes:
    # The root filesystem is read-only; Python and aiohttp get a small scratch folder.
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- with .Values.prometheus.credentialsSecret }}
    - name: prometheus-credentials
      secret:
        secretName: {{ . }}
        defaultMode: 0440
    {{- end }}
    {{- with .Values.etcd.tlsSecret }}
    - name: etcd-tls
      secret:
        secretName: {{ . }}
        defaultMode: 0440
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
