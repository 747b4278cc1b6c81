package bluegreen

import (
	"time"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// Observed is everything Decide looks at, read from the API server.
type Observed struct {
	// Now is the time of observation; Decide never reads the clock.
	Now time.Time
	// Generation of the Rollout.
	Generation int64
	// Spec and Status as stored.
	Spec   v1alpha1.RolloutSpec
	Status v1alpha1.RolloutStatus
	// Revision is TemplateRevision(Spec.Template).
	Revision string
	// Colors is the state of each color's Deployment.
	Colors map[v1alpha1.Color]ColorState
	// Active and Preview are the two Services.
	Active, Preview ServiceState
	// PreDeployJob is the state of the pre-deploy Job of Revision.
	PreDeployJob JobState
	// Route is the HTTPRoute of a canary with traffic routing.
	Route RouteState
}

// RouteState is the HTTPRoute that carries a canary's weight, as observed.
type RouteState struct {
	// Problem says why the route cannot carry the weight (missing, no
	// rule sending to both Services, the Gateway API not installed); ""
	// when it can.
	Problem string
	// Weight is the preview Service's share of the two Services' weights,
	// in percent, when every rule that sends to them agrees; -1 when they
	// do not.
	Weight int32
}

// ColorState is one color's Deployment as observed.
type ColorState struct {
	// Exists is false when the Deployment has not been created.
	Exists bool
	// Revision of its pod template (annotation).
	Revision string
	// Replicas is its spec.replicas.
	Replicas int32
	// Ready counts ready pods of Revision; it is 0 while the Deployment
	// still runs pods of an older template.
	Ready int32
	// Stale counts pods of an older revision of this color that are not
	// terminating yet: the color's Services still send them traffic.
	Stale int32
	// ScaleDownAt is when it is due to scale to zero, if scheduled.
	ScaleDownAt *time.Time
}

// ServiceState is one Service as observed.
type ServiceState struct {
	// Exists is false when the Service is missing.
	Exists bool
	// Color is the color its selector picks ("" when it has no color label).
	Color v1alpha1.Color
	// Both is true when the rollout has claimed it and its selector has no
	// color label: it selects both colors (a canary without traffic
	// routing).
	Both bool
	// ReadyEndpoints counts its ready endpoints that are ready pods of a
	// color it selects, running that color's revision.
	ReadyEndpoints int32
	// ReadyByColor splits ReadyEndpoints by color.
	ReadyByColor map[v1alpha1.Color]int32
	// Listed counts, per color, the pods its EndpointSlices still list in
	// any condition (ready, serving or terminating): while a pod is listed,
	// kube-proxy may still send it connections.
	Listed map[v1alpha1.Color]int32
	// Claimed is true when the Service carries this rollout's claim
	// (AnnotationClaimUID); a Service is switched by one rollout only.
	Claimed bool
	// ClaimedBy names another, existing rollout that claimed the Service
	// ("" when none did, or its claimant no longer exists).
	ClaimedBy string
	// Promotion is the PromotionMark of the promotion that last switched
	// it (AnnotationPromotion).
	Promotion string
}

// JobState is the state of a Job.
type JobState string

// Job states.
const (
	JobAbsent    JobState = ""
	JobRunning   JobState = "Running"
	JobSucceeded JobState = "Succeeded"
	JobFailed    JobState = "Failed"
)

// Plan is what Decide wants done. The reconciler applies it in order:
// Deployments, pre-deploy Job, Services (preview, then active), analysis
// measurements, then status, events and notifications.
type Plan struct {
	// Colors holds the desired Deployment of each color to change; a color
	// absent from the map is left as it is.
	Colors map[v1alpha1.Color]ColorPlan
	// PreviewColor and ActiveColor are the colors the Services must select
	// ("" leaves a Service as it is).
	PreviewColor, ActiveColor v1alpha1.Color
	// ActiveBoth points the active Service at both colors (ActiveColor is
	// then the stable one, which it selects too).
	ActiveBoth bool
	// RouteWeight is the weight to give the preview Service in the
	// HTTPRoute of a canary with traffic routing, the active one getting
	// the rest (nil leaves the route as it is).
	RouteWeight *int32
	// StartPreDeployJob creates the pre-deploy Job of the current revision.
	StartPreDeployJob bool
	// Measure lists the analysis checks due for a measurement now.
	Measure []Measurement
	// Status is the status to write.
	Status v1alpha1.RolloutStatus
	// Events to record on the Rollout.
	Events []Event
	// Recorded are the rollouts this pass put in the history, and
	// Recovered the failed one whose recovery it dated (metrics and
	// CDEvents follow them).
	Recorded  []v1alpha1.RevisionRecord
	Recovered *v1alpha1.RevisionRecord
	// RequeueAfter asks for another look after a timer (0: only on change).
	RequeueAfter time.Duration
}

// ColorPlan is the desired state of one color's Deployment.
type ColorPlan struct {
	// Revision of the template to run: the spec's template when it equals
	// the current revision; otherwise the Deployment keeps its template.
	Revision string
	// Replicas desired.
	Replicas int32
	// ScaleDownAt schedules a scale to zero (nil: none).
	ScaleDownAt *time.Time
}

// Measurement asks for one measurement of an analysis check.
type Measurement struct {
	Stage v1alpha1.AnalysisStage
	// Check is the spec's check (it points into Observed.Spec).
	Check *v1alpha1.AnalysisCheck
}

// Event is a Kubernetes Event to record; Notify marks the ones that are
// also sent to the notification webhooks.
type Event struct {
	Warning bool
	Reason  string
	Message string
	Notify  bool
}
