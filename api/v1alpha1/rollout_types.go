package v1alpha1

import (
	"fmt"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Labels the controller puts on the objects it manages.
const (
	// LabelName names the Rollout that owns an object.
	LabelName = "ragdeploy.io/name"
	// LabelColor is on each color's pods and in each Service selector.
	LabelColor = "ragdeploy.io/color"
	// LabelRevision carries the pod-template revision of a pod.
	LabelRevision = "ragdeploy.io/revision"
)

// Color names one of the two Deployments of a Rollout.
// +kubebuilder:validation:Enum=blue;green
type Color string

// The two colors.
const (
	Blue  Color = "blue"
	Green Color = "green"
)

// Other returns the other color.
func (c Color) Other() Color {
	if c == Blue {
		return Green
	}
	return Blue
}

// RolloutSpec is the desired state: a pod template, the Services that carry
// its traffic, and the strategy that moves traffic to a new template.
// +kubebuilder:validation:XValidation:rule="!has(self.previewService) || self.previewService != self.activeService",message="previewService must differ from activeService: one Service cannot carry production and preview traffic"
type RolloutSpec struct {
	// Replicas serving production traffic.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Selector matches the pods of every revision; it must match the
	// template's labels and cannot change.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="selector is immutable"
	Selector *metav1.LabelSelector `json:"selector"`

	// Template of the pods. A change starts a rollout.
	Template corev1.PodTemplateSpec `json:"template"`

	// ActiveService is the Service that carries production traffic; the
	// controller points its selector at the pods that serve.
	// +kubebuilder:validation:MinLength=1
	ActiveService string `json:"activeService"`

	// PreviewService, when set, selects only the pods of the revision being
	// rolled out, so that it can be tested (and analyzed) before it takes
	// production traffic.
	// +optional
	PreviewService string `json:"previewService,omitempty"`

	// Strategy moves traffic from the stable template to a new one.
	Strategy Strategy `json:"strategy"`

	// ProgressDeadlineSeconds bounds how long the new revision may take to
	// become ready (and pass its analysis before it takes traffic); past
	// it the rollout aborts.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +optional
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`

	// PreDeployJob (e.g. schema migrations) runs before the new revision's
	// pods start.
	// +optional
	PreDeployJob *PreDeployJob `json:"preDeployJob,omitempty"`

	// RevisionHistoryLimit is how many old revisions are kept for undo.
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +optional
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`

	// Notifications are sent on promotion, abort and rollback.
	// +optional
	Notifications *Notifications `json:"notifications,omitempty"`
}

// Strategy names exactly one way of rolling out.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:MaxProperties=1
type Strategy struct {
	// BlueGreen runs the template as two Deployments (blue and green): the
	// new one is brought up beside the stable one, checked, then the
	// active Service switches to it at once.
	// +optional
	BlueGreen *BlueGreenStrategy `json:"blueGreen,omitempty"`
	// Canary brings the new template up beside the stable one and moves a
	// share of production traffic to it step by step, checking as it goes.
	// +optional
	Canary *CanaryStrategy `json:"canary,omitempty"`
	// Rolling replaces the stable pods with new ones a batch at a time,
	// checking each batch before the next.
	// +optional
	Rolling *RollingStrategy `json:"rolling,omitempty"`
}

// RollingStrategy: update the pods a batch at a time, validate each batch
// before the next, monitor, roll back if a check fails. It runs on the
// same two Deployments: the new template's pods come up on the idle color
// beside the stable ones (at most maxSurge above the desired replicas), a
// stable pod goes for each new one ready (at most maxUnavailable fewer
// ready than desired), and the active Service selects both colors while
// the batches run. After each batch its checks run and, between batches,
// an optional pause waits. A failed check, the progress deadline or an
// abort rolls back to the stable template: the stable color comes back to
// the desired replicas and takes the traffic alone once they are ready,
// then the new pods go. After the last batch the active Service selects
// the new color alone and it becomes stable. Pods leave while Services
// still list them, as in a Deployment's rolling update: give the
// template a preStop sleep (the chart does).
type RollingStrategy struct {
	// MaxSurge is how many pods of the new template may run above the
	// desired replicas: a count or a percentage of the replicas, rounded
	// up. Default 25%.
	// +kubebuilder:validation:XIntOrString
	// +optional
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`
	// MaxUnavailable is how many fewer ready pods than desired the update
	// may leave: a count or a percentage of the replicas, rounded down.
	// Default 0. A batch is maxSurge + maxUnavailable pods; both 0 is
	// refused.
	// +kubebuilder:validation:XIntOrString
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// BatchAnalysis runs after each batch (at stage Batch<n>) before the
	// next starts; a failure rolls back.
	// +optional
	// +listType=map
	// +listMapKey=name
	BatchAnalysis []AnalysisCheck `json:"batchAnalysis,omitempty"`
	// Analysis runs in the background from the first new pod serving until
	// the last batch is done; a failure rolls back.
	// +optional
	// +listType=map
	// +listMapKey=name
	Analysis []AnalysisCheck `json:"analysis,omitempty"`
	// Pause waits between batches: for a duration, or without one until
	// `ragdeploy rollout promote`.
	// +optional
	Pause *CanaryPause `json:"pause,omitempty"`
}

// CanaryStrategy: deploy to a small share of users, monitor, raise the
// share step by step, then promote or roll back. It runs on the same two
// Deployments as blue-green: the stable color keeps every desired replica
// throughout, the canary color runs the new template, and without traffic
// routing the active Service selects both, so the weight is carried by pod
// counts: a weight w needs w/(100-w) canary pods per stable one (3
// replicas: 25% is 1 canary pod, 50% is 3). A failure, the progress
// deadline or an abort takes the canary out of the active Service and
// scales it to zero at once; the stable pods, never fewer than desired,
// carry all traffic. After the last step the canary is scaled to the
// desired count, the active Service switches to it alone, and the previous
// stable color stays warm for scaleDownDelaySeconds.
type CanaryStrategy struct {
	// Steps run in order.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +listType=atomic
	Steps []CanaryStep `json:"steps"`

	// Analysis runs in the background from the first weight until
	// promotion; a failure rolls back.
	// +optional
	// +listType=map
	// +listMapKey=name
	Analysis []AnalysisCheck `json:"analysis,omitempty"`

	// AllowRounding accepts weights that the replica count cannot carry
	// apart (with 3 replicas, 10% and 20% are both 1 canary pod, 25%):
	// validation refuses such steps unless it is set. The status always
	// shows the weight achieved.
	// +optional
	AllowRounding bool `json:"allowRounding,omitempty"`

	// ScaleDownDelaySeconds keeps the previous stable color warm after the
	// final switch, as in blue-green.
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=0
	// +optional
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`

	// TrafficRouting carries the weight on a router instead of pod counts.
	// +optional
	TrafficRouting *TrafficRouting `json:"trafficRouting,omitempty"`
}

// TrafficRouting names the router that carries a canary's weight. The
// active Service then selects only the stable pods and the preview Service
// (required) only the canary pods; the router splits the traffic between
// the two Services at exactly each step's weight, and the canary runs
// setWeight percent of the replicas (at least one pod). A failure, the
// deadline or an abort sets the weights back (the active Service 100, the
// preview Service 0) before the canary is scaled down; after the last step
// the active Service switches to the canary color and the weights are set
// back the same way.
type TrafficRouting struct {
	// GatewayAPI writes the weights to a Gateway API HTTPRoute.
	// +required
	GatewayAPI *GatewayAPIRouting `json:"gatewayAPI"`
}

// GatewayAPIRouting names a Gateway API HTTPRoute (gateway.networking.k8s.io/v1)
// in the rollout's namespace. Every rule that sends traffic to the active
// Service must also list the preview Service among its backendRefs; the
// controller changes only those two backendRefs' weights, and the route's
// owner keeps everything else (add the weights to a GitOps tool's ignored
// differences).
type GatewayAPIRouting struct {
	// HTTPRoute is the route's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	HTTPRoute string `json:"httpRoute"`
}

// CanaryStep is one step: exactly one of setWeight, pause, analysis.
// +kubebuilder:validation:MinProperties=1
// +kubebuilder:validation:MaxProperties=1
type CanaryStep struct {
	// SetWeight is the percentage of production traffic the canary gets.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=99
	// +optional
	SetWeight *int32 `json:"setWeight,omitempty"`
	// Pause waits for a duration, or without one until `ragdeploy rollout
	// promote`.
	// +optional
	Pause *CanaryPause `json:"pause,omitempty"`
	// Analysis runs checks at the current weight; a failure rolls back.
	// +optional
	Analysis *StepAnalysis `json:"analysis,omitempty"`
}

// CanaryPause waits. It is replaced whole by an apply, so that a pause
// changed from a duration to {} (wait for promote) stays an empty object
// instead of being merged down to null.
// +structType=atomic
type CanaryPause struct {
	// DurationSeconds to wait; unset waits for `ragdeploy rollout promote`.
	// +kubebuilder:validation:Minimum=0
	// +optional
	DurationSeconds *int32 `json:"durationSeconds,omitempty"`
}

// StepAnalysis is the checks of one step.
type StepAnalysis struct {
	// Checks to run; the step passes once all have.
	// +kubebuilder:validation:MinItems=1
	// +listType=map
	// +listMapKey=name
	Checks []AnalysisCheck `json:"checks"`
}

// BlueGreenStrategy: deploy the idle color, validate it, switch, monitor,
// keep the previous color warm for a rollback.
type BlueGreenStrategy struct {
	// PreviewReplicaCount runs the new color with fewer replicas until
	// promotion; it is scaled to Replicas before traffic switches.
	// +kubebuilder:validation:Minimum=1
	// +optional
	PreviewReplicaCount *int32 `json:"previewReplicaCount,omitempty"`

	// AutoPromotion switches traffic without a manual `promote`.
	// +optional
	AutoPromotion *AutoPromotion `json:"autoPromotion,omitempty"`

	// ScaleDownDelaySeconds keeps the previous color running (warm) after a
	// switch so a rollback is a selector flip, and gives every node's
	// kube-proxy time to stop routing connections to it. After the delay
	// the color also waits until the active Service's EndpointSlices no
	// longer list any of its pods. 0 scales it down right after the switch,
	// without either wait: connections kube-proxy still routes to it fail.
	// +kubebuilder:default=30
	// +kubebuilder:validation:Minimum=0
	// +optional
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`

	// PrePromotionAnalysis runs against the new color before traffic switches.
	// +optional
	// +listType=map
	// +listMapKey=name
	PrePromotionAnalysis []AnalysisCheck `json:"prePromotionAnalysis,omitempty"`

	// PostPromotionAnalysis runs after the switch; a failure rolls back.
	// +optional
	// +listType=map
	// +listMapKey=name
	PostPromotionAnalysis []AnalysisCheck `json:"postPromotionAnalysis,omitempty"`
}

// AutoPromotion promotes a ready, analyzed color automatically.
type AutoPromotion struct {
	// Enabled turns automatic promotion on.
	Enabled bool `json:"enabled"`
	// AfterSeconds waits this long after the new color is ready.
	// +kubebuilder:validation:Minimum=0
	// +optional
	AfterSeconds int32 `json:"afterSeconds,omitempty"`
}

// AnalysisCheck is one check, run Count times every Interval.
type AnalysisCheck struct {
	// Name identifies the check in status and events.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// IntervalSeconds between measurements.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +optional
	IntervalSeconds int32 `json:"intervalSeconds,omitempty"`
	// Count of measurements; the check succeeds after Count measurements
	// with at most FailureLimit failures.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +optional
	Count int32 `json:"count,omitempty"`
	// FailureLimit is how many failed measurements are tolerated.
	// +kubebuilder:validation:Minimum=0
	// +optional
	FailureLimit int32 `json:"failureLimit,omitempty"`
	// ConsecutiveErrorLimit is how many measurements in a row that could
	// not be taken (no answer: connection refused, no route, timeout) are
	// retried at the interval before they count as one failure. An answer
	// that fails the check always counts at once. It covers the moment
	// after a Service's endpoints change, before every node's kube-proxy
	// has caught up. Default 4 (as Argo Rollouts); 0 counts every error.
	// +kubebuilder:default=4
	// +kubebuilder:validation:Minimum=0
	// +optional
	ConsecutiveErrorLimit *int32 `json:"consecutiveErrorLimit,omitempty"`
	// HTTP checks an endpoint.
	// +optional
	HTTP *HTTPCheck `json:"http,omitempty"`
	// Prometheus evaluates a PromQL query.
	// +optional
	Prometheus *PrometheusCheck `json:"prometheus,omitempty"`
	// Job runs a Kubernetes Job; success is completion.
	// +optional
	Job *JobCheck `json:"job,omitempty"`
}

// HTTPCheck requests a URL and checks the status code and, optionally, a JSON field.
type HTTPCheck struct {
	// URL may use {{.PreviewService}}, {{.ActiveService}}, {{.Namespace}}.
	// +kubebuilder:validation:MinLength=1
	URL string `json:"url"`
	// ExpectedStatus of the response.
	// +kubebuilder:default=200
	// +optional
	ExpectedStatus int32 `json:"expectedStatus,omitempty"`
	// JSONField is a dot path into the JSON response body (e.g. "status").
	// +optional
	JSONField string `json:"jsonField,omitempty"`
	// JSONValue is the value JSONField must have, compared as a string.
	// +optional
	JSONValue string `json:"jsonValue,omitempty"`
	// TimeoutSeconds of one request.
	// +kubebuilder:default=5
	// +optional
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`
}

// PrometheusCheck runs an instant query whose result must satisfy a condition.
type PrometheusCheck struct {
	// Address of the Prometheus server, e.g. http://prometheus:9090.
	// +kubebuilder:validation:MinLength=1
	Address string `json:"address"`
	// Query in PromQL; it may use the same template variables as HTTPCheck.URL.
	// +kubebuilder:validation:MinLength=1
	Query string `json:"query"`
	// SuccessCondition compares the scalar result, e.g. "result < 0.05".
	// +kubebuilder:validation:Pattern=`^result\s*(<|<=|>|>=|==|!=)\s*-?[0-9.eE+-]+$`
	SuccessCondition string `json:"successCondition"`
}

// JobCheck runs a Job from a template.
type JobCheck struct {
	// Spec of the Job.
	// The API server validates it when the Job is created; the CRD keeps it
	// schemaless so the CRD stays small.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Spec batchv1.JobSpec `json:"spec"`
}

// PreDeployJob runs before the new color scales up.
type PreDeployJob struct {
	// Spec of the Job.
	// The API server validates it when the Job is created; the CRD keeps it
	// schemaless so the CRD stays small.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	Spec batchv1.JobSpec `json:"spec"`
}

// Notifications lists where rollout events are posted.
type Notifications struct {
	// Webhooks receive Slack-compatible JSON.
	// +optional
	Webhooks []string `json:"webhooks,omitempty"`
	// CDEvents receive CDEvents (v0.4: dev.cdevents.service.deployed,
	// .upgraded and .rolledback) as JSON.
	// +optional
	CDEvents []string `json:"cdEvents,omitempty"`
}

// Phase summarizes a Rollout.
// +kubebuilder:validation:Enum=Progressing;Paused;Healthy;Degraded;Aborted
type Phase string

// Phases.
const (
	// PhaseProgressing: a new revision is being brought up, analyzed or switched to.
	PhaseProgressing Phase = "Progressing"
	// PhasePaused: the new color is ready and waits for `promote`.
	PhasePaused Phase = "Paused"
	// PhaseHealthy: the active color serves the current revision with every replica ready.
	PhaseHealthy Phase = "Healthy"
	// PhaseDegraded: the active color has fewer ready replicas than desired.
	PhaseDegraded Phase = "Degraded"
	// PhaseAborted: the current revision was aborted; the stable color serves.
	PhaseAborted Phase = "Aborted"
)

// Condition types.
const (
	// ConditionAvailable: the active Service has as many ready endpoints as desired.
	ConditionAvailable = "Available"
	// ConditionProgressing: a rollout is in flight.
	ConditionProgressing = "Progressing"
	// ConditionPromoted: the current revision serves production traffic.
	ConditionPromoted = "Promoted"
	// ConditionAborted: the current revision was aborted.
	ConditionAborted = "Aborted"
	// ConditionDegraded: the active color is not fully ready.
	ConditionDegraded = "Degraded"

	// The kstatus conditions (the rules Flux, Helm and cli-utils judge a
	// custom resource by; each carries the generation it describes):
	//
	// ConditionReady: the current revision is stable and serves with every
	// replica ready (`kubectl wait --for=condition=Ready`).
	ConditionReady = "Ready"
	// ConditionReconciling: the controller is moving the rollout (kstatus
	// InProgress).
	ConditionReconciling = "Reconciling"
	// ConditionStalled: the rollout cannot progress without a change: its
	// revision was aborted (a check, the progress deadline, a user), it is
	// degraded, or its spec is invalid (kstatus Failed).
	//
	// A rollout paused for `ragdeploy rollout promote` is neither
	// Reconciling (reason AwaitingPromotion) nor Stalled, and has no Ready
	// condition until it is promoted and done: kstatus calls it Current (the
	// controller has done all it can; promoting is a person's decision, and
	// ragdeploy's own install and upgrade end there too), while `kubectl
	// wait --for=condition=Ready` waits for the promotion.
	ConditionStalled = "Stalled"
)

// Reasons on conditions, events and aborts.
const (
	ReasonNewRevision           = "NewRevision"
	ReasonPreDeployJobRunning   = "PreDeployJobRunning"
	ReasonPreDeployJobFailed    = "PreDeployJobFailed"
	ReasonScalingUp             = "ScalingUp"
	ReasonWaitingForEndpoints   = "WaitingForEndpoints"
	ReasonAnalysisRunning       = "AnalysisRunning"
	ReasonAwaitingPromotion     = "AwaitingPromotion"
	ReasonPromoted              = "Promoted"
	ReasonRolloutComplete       = "RolloutComplete"
	ReasonProgressDeadline      = "ProgressDeadlineExceeded"
	ReasonPrePromotionFailed    = "PrePromotionAnalysisFailed"
	ReasonPostPromotionFailed   = "PostPromotionAnalysisFailed"
	ReasonUserAbort             = "AbortedByUser"
	ReasonReady                 = "Ready"
	ReasonNotReady              = "NotReady"
	ReasonSuperseded            = "Superseded"
	ReasonReverted              = "TemplateReverted"
	ReasonInvalidSpec           = "InvalidSpec"
	ReasonServiceMissing        = "ServiceMissing"
	ReasonServiceConflict       = "ServiceConflict"
	ReasonFastRollback          = "FastRollback"
	ReasonScaledDown            = "ScaledDown"
	ReasonStableColorNotReady   = "StableColorNotReady"
	ReasonPostPromotionAnalysis = "PostPromotionAnalysisRunning"
	ReasonAnalysisSucceeded     = "AnalysisSucceeded"
	ReasonAnalysisFailed        = "AnalysisFailed"
	ReasonActiveServiceSwitched = "ActiveServiceSwitched"
	ReasonInitialDeploy         = "InitialDeploy"
	// Canary steps.
	ReasonSettingWeight      = "SettingWeight"
	ReasonCanaryPaused       = "CanaryPaused"
	ReasonStepAnalysisFailed = "StepAnalysisFailed"
	ReasonBackgroundFailed   = "BackgroundAnalysisFailed"
	ReasonCanaryStepComplete = "CanaryStepComplete"
	// ReasonTrafficRoutingError: the HTTPRoute of trafficRouting cannot
	// carry the weight (missing, not sending to both Services, or the
	// Gateway API not installed); the canary waits.
	ReasonTrafficRoutingError = "TrafficRoutingError"
	// Rolling batches.
	ReasonBatchAnalysisFailed = "BatchAnalysisFailed"
)

// ColorStatus is what one color's Deployment runs.
type ColorStatus struct {
	// Revision of the pod template it runs ("" when it does not exist).
	// +optional
	Revision string `json:"revision,omitempty"`
	// Replicas desired.
	Replicas int32 `json:"replicas"`
	// ReadyReplicas of the current revision.
	ReadyReplicas int32 `json:"readyReplicas"`
}

// AnalysisStage says when a check runs: PrePromotion, PostPromotion
// (blue-green), Background (canary, rolling), Step<n> (canary) or Batch<n>
// (rolling), n counted from 1.
// +kubebuilder:validation:Pattern=`^(PrePromotion|PostPromotion|Background|Step[1-9][0-9]*|Batch[1-9][0-9]*)$`
type AnalysisStage string

// Stages.
const (
	PrePromotion  AnalysisStage = "PrePromotion"
	PostPromotion AnalysisStage = "PostPromotion"
	// Background: a canary's analysis across its steps, a rolling
	// update's across its batches.
	Background AnalysisStage = "Background"
)

// StepStage is the stage of the analysis of canary step i (0-based).
func StepStage(i int) AnalysisStage { return AnalysisStage(fmt.Sprintf("Step%d", i+1)) }

// BatchStage is the stage of the analysis after rolling batch i (0-based).
func BatchStage(i int) AnalysisStage { return AnalysisStage(fmt.Sprintf("Batch%d", i+1)) }

// TakesTraffic reports whether checks of the stage measure a revision that
// carries production traffic (after a switch, as a canary, or in a
// rolling update's batches).
func (s AnalysisStage) TakesTraffic() bool {
	return s == PostPromotion || s == Background || strings.HasPrefix(string(s), "Step") || strings.HasPrefix(string(s), "Batch")
}

// AnalysisResult of a check.
// +kubebuilder:validation:Enum=Running;Successful;Failed
type AnalysisResult string

// Results.
const (
	AnalysisRunning    AnalysisResult = "Running"
	AnalysisSuccessful AnalysisResult = "Successful"
	AnalysisFailed     AnalysisResult = "Failed"
)

// AnalysisStatus records the measurements of one check for one revision.
type AnalysisStatus struct {
	// Name of the check.
	Name string `json:"name"`
	// Stage the check ran in.
	Stage AnalysisStage `json:"stage"`
	// Revision the check measured.
	Revision string `json:"revision"`
	// Result so far.
	Result AnalysisResult `json:"result"`
	// Successes counted.
	Successes int32 `json:"successes"`
	// Failures counted (errors beyond the consecutive error limit count as
	// failures).
	Failures int32 `json:"failures"`
	// ConsecutiveErrors are the measurement errors since the last
	// measurement that was taken.
	// +optional
	ConsecutiveErrors int32 `json:"consecutiveErrors,omitempty"`
	// Message of the last measurement.
	// +optional
	Message string `json:"message,omitempty"`
	// LastMeasuredAt is when the last measurement was taken.
	// +optional
	LastMeasuredAt *metav1.Time `json:"lastMeasuredAt,omitempty"`
}

// StepStatus is where a canary or rolling rollout of CurrentRevision
// stands. For a rolling update the steps are its batches, each followed
// by its analysis and pause when the strategy has them; the canary pods
// are the new template's.
type StepStatus struct {
	// Step is the index of the step in progress (len(steps): all done).
	Step int32 `json:"step"`
	// StepStartedAt is when that step began.
	// +optional
	StepStartedAt *metav1.MicroTime `json:"stepStartedAt,omitempty"`
	// PromotedStep is set by `ragdeploy rollout promote` to the index of
	// the pause it releases.
	// +optional
	PromotedStep *int32 `json:"promotedStep,omitempty"`
	// SetWeight is the weight the steps so far ask for.
	// +optional
	SetWeight int32 `json:"setWeight,omitempty"`
	// Weight is the canary's share of production traffic in percent, as
	// achieved: of the active Service's ready endpoints, CanaryPods of
	// TotalPods; with traffic routing, the preview Service's weight in
	// Route.
	// +optional
	Weight int32 `json:"weight,omitempty"`
	// CanaryPods counts the new revision's ready endpoints of the active
	// Service (with traffic routing: of the preview Service).
	// +optional
	CanaryPods int32 `json:"canaryPods,omitempty"`
	// TotalPods counts all its ready endpoints (with traffic routing:
	// both Services').
	// +optional
	TotalPods int32 `json:"totalPods,omitempty"`
	// Route names the HTTPRoute that carries Weight ("" when pod counts
	// do).
	// +optional
	Route string `json:"route,omitempty"`
	// TrafficAt is when the canary first took production traffic.
	// +optional
	TrafficAt *metav1.MicroTime `json:"trafficAt,omitempty"`
}

// RevisionRecord is one rollout in the history: a revision's way from its
// rollout's start to its outcome. A revision rolled out again (an undo, a
// retry) gets another entry. Its start, finish and recovery are kept to
// the microsecond: a rollback to a warm color takes milliseconds.
type RevisionRecord struct {
	// Revision is the pod template hash.
	Revision string `json:"revision"`
	// Images of the template's containers.
	// +optional
	Images []string `json:"images,omitempty"`
	// StartedAt is when the rollout began (the template was first seen).
	// +optional
	StartedAt *metav1.MicroTime `json:"startedAt,omitempty"`
	// FinishedAt is when it reached its outcome.
	// +optional
	FinishedAt *metav1.MicroTime `json:"finishedAt,omitempty"`
	// PromotedAt is when this revision became stable.
	// +optional
	PromotedAt *metav1.Time `json:"promotedAt,omitempty"`
	// Outcome: Promoted, Aborted, RolledBack or Superseded.
	// +optional
	Outcome Outcome `json:"outcome,omitempty"`
	// Reason is why it ended that way (a Reason* constant: the failed
	// check's stage, the deadline, AbortedByUser, ...).
	// +optional
	Reason string `json:"reason,omitempty"`
	// DecidedBy is who ended the rollout: Controller (automatic promotion,
	// a failed check, the deadline) or User (`rollout promote`, `rollout
	// abort`, the template reverted while it was in flight).
	// +optional
	DecidedBy Decider `json:"decidedBy,omitempty"`
	// RollbackOf is the stable revision this rollout replaced by returning
	// to an earlier promoted one (`rollout undo`, `ragdeploy rollback`, a
	// reverted template): a rollback by hand of RollbackOf.
	// +optional
	RollbackOf string `json:"rollbackOf,omitempty"`
	// RecoveredAt, for a rollout that Aborted or RolledBack, is when the
	// stable revision served again with every replica ready behind the
	// active Service.
	// +optional
	RecoveredAt *metav1.MicroTime `json:"recoveredAt,omitempty"`
	// ImageCreatedAt is the creation time the pod template's
	// ragdeploy.io/image-created annotation gives (lead time).
	// +optional
	ImageCreatedAt *metav1.Time `json:"imageCreatedAt,omitempty"`
}

// Outcome is how a revision's rollout ended.
// +kubebuilder:validation:Enum=Promoted;Aborted;RolledBack;Superseded
type Outcome string

// Outcomes of a revision.
const (
	// OutcomePromoted: the revision became stable.
	OutcomePromoted Outcome = "Promoted"
	// OutcomeAborted: aborted before it took traffic (a check, the
	// progress deadline, a user).
	OutcomeAborted Outcome = "Aborted"
	// OutcomeRolledBack: it had taken traffic (its post-promotion check was
	// running) and traffic went back to the stable color.
	OutcomeRolledBack Outcome = "RolledBack"
	// OutcomeSuperseded: a newer template replaced it before it finished.
	OutcomeSuperseded Outcome = "Superseded"
)

// Decider is who ended a rollout.
// +kubebuilder:validation:Enum=Controller;User
type Decider string

// Deciders.
const (
	DecidedByController Decider = "Controller"
	DecidedByUser       Decider = "User"
)

// AnnotationImageCreated on the pod template gives the image's creation
// time (RFC 3339), as the OCI image config's created field or the
// org.opencontainers.image.created annotation does; the history records it
// so that lead time can be measured.
const AnnotationImageCreated = "ragdeploy.io/image-created"

// LabelEnvironment on a rollout names the environment it belongs to; the
// chart sets it, and metrics and `ragdeploy report` group by it.
const LabelEnvironment = "ragdeploy.io/environment"

// RolloutStatus is the observed state. The fields Abort*,
// PromoteRevision are also written by `ragdeploy rollout` commands. It
// defaults to observedGeneration 0, so that kstatus sees a rollout no
// controller has looked at yet as InProgress, not Current.
type RolloutStatus struct {
	// ObservedGeneration is the generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase summarizes the state.
	// +optional
	Phase Phase `json:"phase,omitempty"`
	// Message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// ActiveColor is the color the active Service selects.
	// +optional
	ActiveColor Color `json:"activeColor,omitempty"`
	// PreviewColor is the color the preview Service selects.
	// +optional
	PreviewColor Color `json:"previewColor,omitempty"`
	// StableColor runs StableRevision: the last revision fully promoted.
	// +optional
	StableColor Color `json:"stableColor,omitempty"`
	// StableRevision is the last revision that completed its rollout.
	// +optional
	StableRevision string `json:"stableRevision,omitempty"`
	// CurrentRevision is the hash of spec.template.
	// +optional
	CurrentRevision string `json:"currentRevision,omitempty"`
	// Replicas of the active color (scale subresource).
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// ReadyReplicas of the active color.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// Selector for the scale subresource (HPA).
	// +optional
	Selector string `json:"selector,omitempty"`
	// Blue is the blue Deployment.
	// +optional
	Blue ColorStatus `json:"blue,omitempty"`
	// Green is the green Deployment.
	// +optional
	Green ColorStatus `json:"green,omitempty"`
	// RolloutStartedAt is when CurrentRevision started rolling out.
	// +optional
	RolloutStartedAt *metav1.MicroTime `json:"rolloutStartedAt,omitempty"`
	// PreviewReadyAt is when the new color became fully ready.
	// +optional
	PreviewReadyAt *metav1.Time `json:"previewReadyAt,omitempty"`
	// PromotedAt is when traffic switched to CurrentRevision.
	// +optional
	PromotedAt *metav1.Time `json:"promotedAt,omitempty"`
	// PromoteRevision is set by `ragdeploy rollout promote` to the revision to promote.
	// +optional
	PromoteRevision string `json:"promoteRevision,omitempty"`
	// AbortedRevision is the revision that was aborted (by a failed check,
	// the progress deadline or `ragdeploy rollout abort`); `retry` clears it.
	// +optional
	AbortedRevision string `json:"abortedRevision,omitempty"`
	// AbortReason is a Reason* constant.
	// +optional
	AbortReason string `json:"abortReason,omitempty"`
	// AbortMessage explains the abort.
	// +optional
	AbortMessage string `json:"abortMessage,omitempty"`
	// Canary is the progress of a canary rollout.
	// +optional
	Canary *StepStatus `json:"canary,omitempty"`
	// Rolling is the progress of a rolling update.
	// +optional
	Rolling *StepStatus `json:"rolling,omitempty"`
	// Analysis holds the checks of CurrentRevision.
	// +optional
	// +listType=atomic
	Analysis []AnalysisStatus `json:"analysis,omitempty"`
	// History of rollouts, newest first: every rollout of the last
	// revisionHistoryLimit+1 revisions, at most 100 entries.
	// +optional
	// +listType=atomic
	History []RevisionRecord `json:"history,omitempty"`
	// Conditions: Available, Progressing, Promoted, Aborted, Degraded.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Rollout runs a pod template as two Deployments (blue and green)
// and moves production traffic between them with zero downtime.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=rdr,categories=ragdeploy
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Active",type=string,JSONPath=`.status.activeColor`
// +kubebuilder:printcolumn:name="Preview",type=string,JSONPath=`.status.previewColor`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Stable",type=string,JSONPath=`.status.stableRevision`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Rollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec RolloutSpec `json:"spec,omitempty"`
	// +kubebuilder:default={observedGeneration: 0}
	Status RolloutStatus `json:"status,omitempty"`
}

// RolloutList is a list of Rollouts.
//
// +kubebuilder:object:root=true
type RolloutList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Rollout `json:"items"`
}
