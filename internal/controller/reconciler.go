package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/analysis"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
)

// Measurer takes one measurement of an analysis check.
type Measurer interface {
	Measure(ctx context.Context, t analysis.Target, c *v1alpha1.AnalysisCheck) analysis.Result
}

// Notifier sends rollout notifications: Notify for the plan's events
// marked Notify (promoted, aborted, rolled back), Recorded for the rollouts
// it put in the history, once the status holding them is stored.
type Notifier interface {
	Notify(ctx context.Context, b *v1alpha1.Rollout, e bluegreen.Event)
	Recorded(ctx context.Context, b *v1alpha1.Rollout, p *bluegreen.Plan)
}

// Reconciler runs the rollout strategies for Rollouts:
// observe -> Decide -> apply. It keeps nothing between calls but when it
// last wrote each Rollout's status, to space out the writes that only
// report progress (bluegreen.ProgressOnly): a pass that must move traffic
// then does not wait behind them.
type Reconciler struct {
	Client client.Client
	// APIReader reads from the API server, not the cache: a promotion
	// checks that the Rollout it decided on is still current.
	APIReader client.Reader
	Recorder  events.EventRecorder
	Measurer  Measurer
	Notifier  Notifier
	Metrics   *Metrics
	// Now returns the current time (tests may fix it).
	Now func() time.Time

	statusWrites sync.Map // client.ObjectKey -> time.Time
}

// progressEvery is the least time between two status writes of one
// Rollout when the second only reports progress.
const progressEvery = 500 * time.Millisecond

// progressWait is how long a status change must wait before it is
// written: 0 unless the rollout is progressing (a switch or a step may
// follow at any moment; a paused or settled one is written at once), the
// change only reports progress, and the last write of this Rollout's
// status was less than progressEvery ago.
func (r *Reconciler) progressWait(key client.ObjectKey, stored, next *v1alpha1.RolloutStatus, now time.Time) time.Duration {
	last, ok := r.statusWrites.Load(key)
	if !ok || next.Phase != v1alpha1.PhaseProgressing || !bluegreen.ProgressOnly(stored, next) {
		return 0
	}
	return max(0, last.(time.Time).Add(progressEvery).Sub(now))
}

// Reconcile implements reconcile.Reconciler.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var b v1alpha1.Rollout
	if err := r.Client.Get(ctx, req.NamespacedName, &b); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.forget(req.Namespace, req.Name)
			r.statusWrites.Delete(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !b.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	if errs := bluegreen.Validate(&b); len(errs) > 0 {
		return ctrl.Result{}, r.invalid(ctx, &b, errs.ToAggregate())
	}
	now := r.now()
	w, err := r.observe(ctx, &b, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	plan := bluegreen.Decide(w.Observed)
	logger.V(1).Info("decided", "revision", w.Revision, "phase", plan.Status.Phase, "active", plan.ActiveColor, "preview", plan.PreviewColor)

	for _, c := range []v1alpha1.Color{v1alpha1.Blue, v1alpha1.Green} {
		if cp, ok := plan.Colors[c]; ok {
			if err := r.applyColor(ctx, &b, w, c, cp); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	if plan.StartPreDeployJob {
		if err := r.startPreDeployJob(ctx, &b, w.Revision); err != nil {
			return ctrl.Result{}, err
		}
	}
	// The template is stored for `rollout undo` after the Deployments are
	// applied: the new pods do not wait for it.
	if err := r.recordRevision(ctx, &b, w.Revision); err != nil {
		return ctrl.Result{}, err
	}
	measured := r.measure(ctx, &b, w, &plan)

	// A promotion switches the active Service first, marked with the
	// rollout it promotes (its record in the status follows, and the next
	// pass recovers it from the mark if that write is lost): traffic moves
	// without waiting for a status write. Any other switch goes after the
	// status that records it (an abort's reason, a check's result), so a
	// failure in between cannot be misread as a superseded rollout.
	promotes := plan.ActiveColor != "" && plan.ActiveColor != w.Active.Color && plan.Status.PromotedAt != nil && b.Status.PromotedAt == nil
	if promotes {
		// The status write's resourceVersion check would have caught a
		// decision made on a stale Rollout (an abort or a new template not
		// yet in the cache); a read from the API server catches it instead.
		if current, err := r.current(ctx, &b); err != nil || !current {
			return ctrl.Result{RequeueAfter: 10 * time.Millisecond}, err
		}
		if err := r.writeSelector(ctx, &b, w.services[b.Spec.ActiveService], w.Active, string(plan.ActiveColor),
			map[string]string{bluegreen.AnnotationPromotion: bluegreen.PromotionMark(&plan.Status)}); err != nil {
			return requeueOnConflict(err)
		}
		r.Metrics.switched(now)
	}
	changed := !equality.Semantic.DeepEqual(b.Status, plan.Status)
	var deferred time.Duration
	if changed {
		deferred = r.progressWait(req.NamespacedName, &b.Status, &plan.Status, now)
	}
	if changed && deferred == 0 {
		updated := b.DeepCopy()
		updated.Status = plan.Status
		if err := r.Client.Status().Update(ctx, updated); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: 10 * time.Millisecond}, nil
			}
			return ctrl.Result{}, fmt.Errorf("update status: %w", err)
		}
		r.statusWrites.Store(req.NamespacedName, now)
		b = *updated
		r.Metrics.recorded(&b, &plan)
		if r.Notifier != nil {
			r.Notifier.Recorded(ctx, &b, &plan)
		}
	}
	if plan.PreviewColor != "" && b.Spec.PreviewService != "" {
		if err := r.selectColor(ctx, &b, w.services[b.Spec.PreviewService], w.Preview, plan.PreviewColor); err != nil {
			return requeueOnConflict(err)
		}
	}
	switch {
	case promotes:
	case plan.ActiveBoth:
		if err := r.selectBoth(ctx, &b, w.services[b.Spec.ActiveService], w.Active); err != nil {
			return requeueOnConflict(err)
		}
	case plan.ActiveColor != "":
		if err := r.selectColor(ctx, &b, w.services[b.Spec.ActiveService], w.Active, plan.ActiveColor); err != nil {
			return requeueOnConflict(err)
		}
		if w.Active.Color != plan.ActiveColor {
			r.Metrics.switched(now)
		}
	}
	if plan.RouteWeight != nil && w.route != nil && w.Route.Weight != *plan.RouteWeight {
		if err := r.setRouteWeight(ctx, &b, w.route, *plan.RouteWeight); err != nil {
			return requeueOnConflict(err)
		}
	}
	for _, e := range plan.Events {
		kind := corev1.EventTypeNormal
		if e.Warning {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(&b, nil, kind, e.Reason, "Rollout", "%s", e.Message)
		if e.Notify && r.Notifier != nil {
			r.Notifier.Notify(ctx, &b, e)
		}
	}
	r.Metrics.observe(&b, &plan)
	if measured {
		return ctrl.Result{RequeueAfter: time.Millisecond}, nil
	}
	if deferred > 0 && (plan.RequeueAfter == 0 || deferred < plan.RequeueAfter) {
		return ctrl.Result{RequeueAfter: deferred}, nil
	}
	return ctrl.Result{RequeueAfter: plan.RequeueAfter}, nil
}

// current reports whether b is the Rollout the API server holds (the same
// resourceVersion): a decision made on it is not stale.
func (r *Reconciler) current(ctx context.Context, b *v1alpha1.Rollout) (bool, error) {
	var live metav1.PartialObjectMetadata
	live.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("Rollout"))
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(b), &live); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return live.ResourceVersion == b.ResourceVersion, nil
}

// requeueOnConflict looks again at once when a write lost a race (the next
// pass observes the winner's write); any other error is returned.
func requeueOnConflict(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: 10 * time.Millisecond}, nil
	}
	return ctrl.Result{}, err
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// measure takes the measurements the plan asks for and records them in the
// plan's status. It reports whether any was counted.
func (r *Reconciler) measure(ctx context.Context, b *v1alpha1.Rollout, w *world, plan *bluegreen.Plan) bool {
	counted := false
	target := analysis.Target{
		Namespace: b.Namespace, Name: b.Name, Revision: w.Revision, OwnerUID: b.UID,
		ActiveService: b.Spec.ActiveService, PreviewService: b.Spec.PreviewService,
	}
	for _, m := range plan.Measure {
		c := m.Check
		entry := bluegreen.AnalysisEntry(&plan.Status, m.Stage, c.Name, w.Revision)
		target.Stage, target.Attempt = m.Stage, entry.Successes+entry.Failures
		res := r.Measurer.Measure(ctx, target, c)
		entry.Message = res.Message
		if res.Pending {
			continue
		}
		entry.LastMeasuredAt = &metav1.Time{Time: w.Now}
		counted = true
		if bluegreen.CountError(c, entry, res) {
			continue
		}
		if res.Success {
			entry.Successes++
		} else {
			entry.Failures++
		}
		r.Metrics.measured(res.Success)
	}
	return counted
}

// invalid records a spec that cannot be acted on. Nothing is changed in the
// cluster; the error is terminal until the spec changes.
func (r *Reconciler) invalid(ctx context.Context, b *v1alpha1.Rollout, err error) error {
	updated := b.DeepCopy()
	updated.Status.ObservedGeneration = b.Generation
	updated.Status.Phase = v1alpha1.PhaseDegraded
	updated.Status.Message = err.Error()
	meta.SetStatusCondition(&updated.Status.Conditions, metav1.Condition{
		Type: v1alpha1.ConditionDegraded, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonInvalidSpec,
		Message: err.Error(), ObservedGeneration: b.Generation,
	})
	bluegreen.SetKstatusConditions(&updated.Status.Conditions, b.Generation, r.now(), bluegreen.StateFailed, v1alpha1.ReasonInvalidSpec, err.Error(), v1alpha1.ReasonInvalidSpec)
	if !equality.Semantic.DeepEqual(b.Status, updated.Status) {
		if uerr := r.Client.Status().Update(ctx, updated); uerr != nil {
			return errors.Join(err, uerr)
		}
		r.Recorder.Eventf(b, nil, corev1.EventTypeWarning, v1alpha1.ReasonInvalidSpec, "bluegreen.Validate", err.Error())
	}
	return reconcile.TerminalError(err)
}

// SetupWithManager registers the reconciler: it owns the color Deployments
// and pre-deploy Jobs, and watches pods, Services and EndpointSlices of the
// Rollouts that use them.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Rollout{}, serviceIndex,
		func(o client.Object) []string { return servicesOf(o.(*v1alpha1.Rollout)) }); err != nil {
		return err
	}
	bld := ctrl.NewControllerManagedBy(mgr)
	// HTTPRoutes are watched when the cluster has the Gateway API; without
	// it, a rollout that names one says so (observeRoute).
	if _, err := mgr.GetRESTMapper().RESTMapping(schema.GroupKind{Group: gatewayv1.GroupName, Kind: "HTTPRoute"}, gatewayv1.GroupVersion.Version); err == nil {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Rollout{}, routeIndex, func(o client.Object) []string {
			if name := bluegreen.RouteOf(&o.(*v1alpha1.Rollout).Spec); name != "" {
				return []string{name}
			}
			return nil
		}); err != nil {
			return err
		}
		bld = bld.Watches(&gatewayv1.HTTPRoute{}, handler.EnqueueRequestsFromMapFunc(r.byIndex(routeIndex, func(o client.Object) string { return o.GetName() })))
	} else if !meta.IsNoMatchError(err) {
		return fmt.Errorf("look up the HTTPRoute kind: %w", err)
	}
	return bld.
		For(&v1alpha1.Rollout{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, statusIntentChanged()))).
		Owns(&appsv1.Deployment{}).
		Owns(&batchv1.Job{}).
		Owns(&appsv1.ControllerRevision{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(byNameLabel)).
		// A deleted rollout lets its Services go: wake the rollouts that wait for them.
		Watches(&v1alpha1.Rollout{}, handler.EnqueueRequestsFromMapFunc(r.sharingServices),
			builder.WithPredicates(predicate.Funcs{
				CreateFunc: func(event.CreateEvent) bool { return false }, UpdateFunc: func(event.UpdateEvent) bool { return false },
				GenericFunc: func(event.GenericEvent) bool { return false },
			})).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.byService(func(o client.Object) string { return o.GetName() }))).
		Watches(&discoveryv1.EndpointSlice{}, handler.EnqueueRequestsFromMapFunc(r.byService(func(o client.Object) string {
			return o.GetLabels()[discoveryv1.LabelServiceName]
		}))).
		Named("rollout").
		Complete(r)
}

const serviceIndex = "spec.services"

// statusIntentChanged passes updates that change what a user asked for
// through the status (promote, a canary's promoted step, abort, retry).
func statusIntentChanged() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*v1alpha1.Rollout), e.ObjectNew.(*v1alpha1.Rollout)
		return o.Status.PromoteRevision != n.Status.PromoteRevision || o.Status.AbortedRevision != n.Status.AbortedRevision ||
			len(o.Status.Analysis) != len(n.Status.Analysis) || promotedStep(o) != promotedStep(n)
	}}
}

// promotedStep is the step `rollout promote` released (-1: none).
func promotedStep(b *v1alpha1.Rollout) int32 {
	if c := bluegreen.StepsProgress(b); c != nil && c.PromotedStep != nil {
		return *c.PromotedStep
	}
	return -1
}

// byNameLabel maps a pod to the Rollout named in its label.
func byNameLabel(_ context.Context, o client.Object) []reconcile.Request {
	name := o.GetLabels()[bluegreen.LabelName]
	if name == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}}}
}

// sharingServices maps a Rollout to the others that name one of
// its Services.
func (r *Reconciler) sharingServices(ctx context.Context, o client.Object) []reconcile.Request {
	b, ok := o.(*v1alpha1.Rollout)
	if !ok {
		return nil
	}
	var reqs []reconcile.Request
	for _, name := range servicesOf(b) {
		for _, req := range r.byService(func(client.Object) string { return name })(ctx, o) {
			if req.Name != b.Name && !slices.Contains(reqs, req) {
				reqs = append(reqs, req)
			}
		}
	}
	return reqs
}

// servicesOf lists the Services a Rollout switches.
func servicesOf(b *v1alpha1.Rollout) []string {
	out := []string{b.Spec.ActiveService}
	if b.Spec.PreviewService != "" {
		out = append(out, b.Spec.PreviewService)
	}
	return out
}

// byService maps a Service (or an EndpointSlice of it) to the
// Rollouts that use the Service.
func (r *Reconciler) byService(serviceName func(client.Object) string) handler.MapFunc {
	return r.byIndex(serviceIndex, serviceName)
}

// byIndex maps an object to the Rollouts of its namespace that name it
// (by its name, through nameOf) in the field index.
func (r *Reconciler) byIndex(index string, nameOf func(client.Object) string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		name := nameOf(o)
		if name == "" {
			return nil
		}
		var list v1alpha1.RolloutList
		if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: name}); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, b := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&b)})
		}
		return reqs
	}
}
