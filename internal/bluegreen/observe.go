package bluegreen

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
)

// world is what observe read: the Observed for Decide plus the live objects
// the reconciler needs to apply a plan.
type world struct {
	Observed
	deployments map[v1alpha1.Color]*appsv1.Deployment
	// services are the live active and preview Services, by name.
	services map[string]*corev1.Service
}

// DeploymentName is the Deployment of a color.
func DeploymentName(bgd string, c v1alpha1.Color) string { return bgd + "-" + string(c) }

// PreDeployJobName is the pre-deploy Job of a revision.
func PreDeployJobName(bgd, rev string) string { return bgd + "-predeploy-" + rev }

// observe reads everything Decide needs.
func (r *Reconciler) observe(ctx context.Context, b *v1alpha1.BlueGreenDeployment, now time.Time) (*world, error) {
	w := &world{
		Observed: Observed{
			Now: now, Generation: b.Generation, Spec: b.Spec, Status: b.Status,
			Revision: TemplateRevision(&b.Spec.Template),
			Colors:   map[v1alpha1.Color]ColorState{},
		},
		deployments: map[v1alpha1.Color]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
	}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(b.Namespace), client.MatchingLabels{LabelName: b.Name}); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	readyPods := map[v1alpha1.Color]map[string]bool{}
	podColor := map[string]v1alpha1.Color{}
	for i := range pods.Items {
		podColor[pods.Items[i].Name] = v1alpha1.Color(pods.Items[i].Labels[LabelColor])
	}
	for _, c := range []v1alpha1.Color{v1alpha1.Blue, v1alpha1.Green} {
		var d appsv1.Deployment
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: DeploymentName(b.Name, c)}, &d)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get Deployment %s: %w", DeploymentName(b.Name, c), err)
		}
		w.deployments[c] = &d
		cs := ColorState{Exists: true, Revision: d.Annotations[AnnotationRevision]}
		if d.Spec.Replicas != nil {
			cs.Replicas = *d.Spec.Replicas
		}
		if at, err := time.Parse(time.RFC3339, d.Annotations[AnnotationScaleDownAt]); err == nil {
			cs.ScaleDownAt = &at
		}
		readyPods[c] = map[string]bool{}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Labels[LabelColor] != string(c) {
				continue
			}
			switch {
			case p.Labels[LabelRevision] == cs.Revision && PodReady(p):
				readyPods[c][p.Name] = true
			case p.Labels[LabelRevision] != cs.Revision && p.DeletionTimestamp == nil:
				cs.Stale++
			}
		}
		cs.Ready = int32(len(readyPods[c])) //nolint:gosec // G115: a count of pods, bounded far below 2^31
		w.Colors[c] = cs
	}
	var err error
	if w.Active, err = r.observeService(ctx, b, w, b.Spec.ActiveService, readyPods, podColor); err != nil {
		return nil, err
	}
	if b.Spec.PreviewService != "" {
		if w.Preview, err = r.observeService(ctx, b, w, b.Spec.PreviewService, readyPods, podColor); err != nil {
			return nil, err
		}
	}
	if b.Spec.PreDeployJob != nil {
		var job batchv1.Job
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: PreDeployJobName(b.Name, w.Revision)}, &job)
		switch {
		case apierrors.IsNotFound(err):
			w.PreDeployJob = JobAbsent
		case err != nil:
			return nil, fmt.Errorf("get pre-deploy Job: %w", err)
		default:
			w.PreDeployJob = jobState(&job)
		}
	}
	return w, nil
}

// observeService reads a Service's color and claim, and counts its ready
// endpoints that are ready pods of the color it selects, running that
// color's revision: stale EndpointSlice entries of another color do not
// count. It also counts the pods of each color its EndpointSlices list in
// any condition (podColor maps the rollout's pods to their color).
func (r *Reconciler) observeService(ctx context.Context, b *v1alpha1.BlueGreenDeployment, w *world, name string, readyPods map[v1alpha1.Color]map[string]bool, podColor map[string]v1alpha1.Color) (ServiceState, error) {
	ns := b.Namespace
	var svc corev1.Service
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &svc)
	if apierrors.IsNotFound(err) {
		return ServiceState{}, nil
	}
	if err != nil {
		return ServiceState{}, fmt.Errorf("get Service %s: %w", name, err)
	}
	w.services[name] = &svc
	s := ServiceState{Exists: true, Color: v1alpha1.Color(svc.Spec.Selector[LabelColor])}
	if s.Claimed, s.ClaimedBy, err = r.claim(ctx, b, &svc); err != nil {
		return s, err
	}
	var slices discoveryv1.EndpointSliceList
	if err := r.Client.List(ctx, &slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: name}); err != nil {
		return s, fmt.Errorf("list EndpointSlices of %s: %w", name, err)
	}
	counted, listed := map[string]bool{}, map[string]bool{}
	for _, sl := range slices.Items {
		for _, ep := range sl.Endpoints {
			if ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" {
				continue
			}
			if c, ok := podColor[ep.TargetRef.Name]; ok && !listed[ep.TargetRef.Name] {
				listed[ep.TargetRef.Name] = true
				if s.Listed == nil {
					s.Listed = map[v1alpha1.Color]int32{}
				}
				s.Listed[c]++
			}
			if s.Color == "" || ep.Conditions.Ready == nil || !*ep.Conditions.Ready {
				continue
			}
			if readyPods[s.Color][ep.TargetRef.Name] {
				counted[ep.TargetRef.Name] = true
			}
		}
	}
	s.ReadyEndpoints = int32(len(counted)) //nolint:gosec // G115: a count of pods, bounded far below 2^31
	return s, nil
}

// claim says whether b holds the Service's claim, or which other existing
// BlueGreenDeployment does. A claim whose rollout is gone (deleted, or
// recreated under a new UID) binds nobody.
func (r *Reconciler) claim(ctx context.Context, b *v1alpha1.BlueGreenDeployment, svc *corev1.Service) (ours bool, other string, err error) {
	uid, owner := svc.Annotations[AnnotationClaimUID], svc.Annotations[AnnotationClaimedBy]
	switch {
	case uid == "":
		return false, "", nil
	case uid == string(b.UID):
		return true, "", nil
	}
	var claimant v1alpha1.BlueGreenDeployment
	err = r.Client.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: owner}, &claimant)
	switch {
	case apierrors.IsNotFound(err):
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("get claimant %s of Service %s: %w", owner, svc.Name, err)
	case string(claimant.UID) != uid || claimant.DeletionTimestamp != nil:
		return false, "", nil
	}
	return false, owner, nil
}

// PodReady reports whether a pod is Ready and not terminating.
func PodReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func jobState(j *batchv1.Job) JobState {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return JobSucceeded
		case batchv1.JobFailed:
			return JobFailed
		}
	}
	return JobRunning
}
