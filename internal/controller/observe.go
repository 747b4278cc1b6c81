package controller

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
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// world is what observe read: the Observed for Decide plus the live objects
// the reconciler needs to apply a plan.
type world struct {
	bluegreen.Observed
	deployments map[v1alpha1.Color]*appsv1.Deployment
	// services are the live active and preview Services, by name.
	services map[string]*corev1.Service
	// route is the live HTTPRoute of a canary's traffic routing.
	route *gatewayv1.HTTPRoute
}

// observe reads everything Decide needs.
func (r *Reconciler) observe(ctx context.Context, b *v1alpha1.Rollout, now time.Time) (*world, error) {
	w := &world{
		Observed: bluegreen.Observed{
			Now: now, Generation: b.Generation, Spec: b.Spec, Status: b.Status,
			Revision: bluegreen.TemplateRevision(&b.Spec.Template),
			Colors:   map[v1alpha1.Color]bluegreen.ColorState{},
		},
		deployments: map[v1alpha1.Color]*appsv1.Deployment{},
		services:    map[string]*corev1.Service{},
	}
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(b.Namespace), client.MatchingLabels{bluegreen.LabelName: b.Name}); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	readyPods := map[v1alpha1.Color]map[string]bool{}
	podColor := map[string]v1alpha1.Color{}
	for i := range pods.Items {
		podColor[pods.Items[i].Name] = v1alpha1.Color(pods.Items[i].Labels[bluegreen.LabelColor])
	}
	for _, c := range []v1alpha1.Color{v1alpha1.Blue, v1alpha1.Green} {
		var d appsv1.Deployment
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: bluegreen.DeploymentName(b.Name, c)}, &d)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get Deployment %s: %w", bluegreen.DeploymentName(b.Name, c), err)
		}
		w.deployments[c] = &d
		cs := bluegreen.ColorState{Exists: true, Revision: d.Annotations[bluegreen.AnnotationRevision]}
		if d.Spec.Replicas != nil {
			cs.Replicas = *d.Spec.Replicas
		}
		if at, err := time.Parse(time.RFC3339, d.Annotations[bluegreen.AnnotationScaleDownAt]); err == nil {
			cs.ScaleDownAt = &at
		}
		readyPods[c] = map[string]bool{}
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Labels[bluegreen.LabelColor] != string(c) {
				continue
			}
			switch {
			case p.Labels[bluegreen.LabelRevision] == cs.Revision && objects.PodReady(p):
				readyPods[c][p.Name] = true
			case p.Labels[bluegreen.LabelRevision] != cs.Revision && p.DeletionTimestamp == nil:
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
	if err := r.observeRoute(ctx, b, w); err != nil {
		return nil, err
	}
	if b.Spec.PreDeployJob != nil {
		var job batchv1.Job
		err := r.Client.Get(ctx, types.NamespacedName{Namespace: b.Namespace, Name: bluegreen.PreDeployJobName(b.Name, w.Revision)}, &job)
		switch {
		case apierrors.IsNotFound(err):
			w.PreDeployJob = bluegreen.JobAbsent
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
func (r *Reconciler) observeService(ctx context.Context, b *v1alpha1.Rollout, w *world, name string, readyPods map[v1alpha1.Color]map[string]bool, podColor map[string]v1alpha1.Color) (bluegreen.ServiceState, error) {
	ns := b.Namespace
	var svc corev1.Service
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &svc)
	if apierrors.IsNotFound(err) {
		return bluegreen.ServiceState{}, nil
	}
	if err != nil {
		return bluegreen.ServiceState{}, fmt.Errorf("get Service %s: %w", name, err)
	}
	w.services[name] = &svc
	s := bluegreen.ServiceState{Exists: true, Color: v1alpha1.Color(svc.Spec.Selector[bluegreen.LabelColor]), ReadyByColor: map[v1alpha1.Color]int32{},
		Promotion: svc.Annotations[bluegreen.AnnotationPromotion]}
	if s.Claimed, s.ClaimedBy, err = r.claim(ctx, b, &svc); err != nil {
		return s, err
	}
	s.Both = s.Claimed && s.Color == ""
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
			if ep.Conditions.Ready == nil || !*ep.Conditions.Ready || counted[ep.TargetRef.Name] {
				continue
			}
			for c := range readyPods {
				if (c == s.Color || s.Both) && readyPods[c][ep.TargetRef.Name] {
					counted[ep.TargetRef.Name] = true
					s.ReadyByColor[c]++
					s.ReadyEndpoints++
				}
			}
		}
	}
	return s, nil
}

// claim says whether b holds the Service's claim, or which other existing
// Rollout does. A claim whose rollout is gone (deleted, or
// recreated under a new UID) binds nobody.
func (r *Reconciler) claim(ctx context.Context, b *v1alpha1.Rollout, svc *corev1.Service) (ours bool, other string, err error) {
	uid, owner := svc.Annotations[bluegreen.AnnotationClaimUID], svc.Annotations[bluegreen.AnnotationClaimedBy]
	switch {
	case uid == "":
		return false, "", nil
	case uid == string(b.UID):
		return true, "", nil
	}
	var claimant v1alpha1.Rollout
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

func jobState(j *batchv1.Job) bluegreen.JobState {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return bluegreen.JobSucceeded
		case batchv1.JobFailed:
			return bluegreen.JobFailed
		}
	}
	return bluegreen.JobRunning
}
