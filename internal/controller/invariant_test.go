package controller_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// watcher follows the active Service and its EndpointSlices through
// informers during a scenario, judging every change it is told of, and
// records a violation when, after the first switch, the active Service has
// no ready endpoint, or when it moves to a color with fewer ready pods than
// the desired replicas (less maxUnavailable, for both colors of a rolling
// update).
type watcher struct {
	mu           sync.Mutex
	violations   []string
	samples      int
	sampleErrors int
	lastError    string
	lastColor    string
	served       bool
	cancel       context.CancelFunc
}

// watchInvariants starts the watcher; check() stops it and fails the test on
// any violation.
func (s *scenario) watchInvariants() *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{cancel: cancel}
	factory := informers.NewSharedInformerFactoryWithOptions(s.env.Client, 0, informers.WithNamespace(s.env.Namespace))
	services := factory.Core().V1().Services()
	slices := factory.Discovery().V1().EndpointSlices()
	judge := func() { w.judge(ctx, s, services.Lister(), slices.Lister()) }
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { judge() },
		UpdateFunc: func(any, any) { judge() },
		DeleteFunc: func(any) { judge() },
	}
	for _, inf := range []cache.SharedIndexInformer{services.Informer(), slices.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			s.t.Fatal(err)
		}
	}
	factory.Start(ctx.Done())
	for typ, synced := range factory.WaitForCacheSync(ctx.Done()) {
		if !synced {
			s.t.Fatalf("invariant watcher: %v informer never synced", typ)
		}
	}
	s.t.Cleanup(func() {
		w.check(s)
		factory.Shutdown()
	})
	return w
}

// judge checks the invariants against the informers' caches after a change
// to the active Service or one of its EndpointSlices. A color switch is
// checked against a fresh read of the pods and the rollout.
func (w *watcher) judge(ctx context.Context, s *scenario, services corelisters.ServiceLister, slices discoverylisters.EndpointSliceLister) {
	w.mu.Lock()
	defer w.mu.Unlock()
	svc, err := services.Services(s.env.Namespace).Get("api")
	if err != nil {
		return // not created yet
	}
	color := svc.Spec.Selector[bluegreen.LabelColor]
	if color == "" {
		if svc.Annotations[bluegreen.AnnotationClaimUID] == "" {
			return // not switched yet
		}
		color = bothColors // a canary: both colors serve
	}
	w.samples++
	if color != w.lastColor {
		ro := s.getQuiet(ctx)
		ready, err := s.readyPods(ctx, color)
		if ro == nil || ro.Spec.Replicas == nil || err != nil {
			// An API error (e.g. throttling under load) is no evidence either
			// way: the next change is judged again.
			w.sampleErrors++
			w.lastError = fmt.Sprintf("Rollout read: %t, pods: %v", ro != nil, err)
			return
		}
		// A rolling update may leave maxUnavailable fewer ready pods.
		want := *ro.Spec.Replicas
		if r := ro.Spec.Strategy.Rolling; r != nil && color == bothColors {
			_, unavailable := bluegreen.RollingBounds(r, want)
			want -= unavailable
		}
		if ready < want {
			w.violations = append(w.violations, time.Now().Format("15:04:05.000")+" "+
				fmt.Sprintf("active Service moved %q -> %q with %d ready pods; want at least %d", w.lastColor, color, ready, want))
		}
		w.lastColor = color
	}
	list, err := slices.EndpointSlices(s.env.Namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: "api"}))
	if err != nil {
		return
	}
	n := 0
	for _, sl := range list {
		for _, ep := range sl.Endpoints {
			if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
				n++
			}
		}
	}
	if n > 0 {
		w.served = true
	} else if w.served {
		w.violations = append(w.violations, time.Now().Format("15:04:05.000")+" "+
			fmt.Sprintf("active Service selecting %s had no ready endpoint", color))
	}
}

func (w *watcher) check(s *scenario) {
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sampleErrors > 0 {
		s.t.Logf("invariant watcher: %d samples retried after API errors (last: %s)", w.sampleErrors, w.lastError)
	}
	if w.samples == 0 {
		s.t.Error("invariant watcher saw no change of a selected active Service")
	}
	for _, v := range w.violations {
		s.t.Errorf("invariant violated: %s", v)
	}
}

// bothColors stands for an active Service that selects both colors.
const bothColors = "blue+green"

// readyPods counts ready, non-terminating pods of a color (or of both).
func (s *scenario) readyPods(ctx context.Context, color string) (int32, error) {
	selector := bluegreen.LabelName + "=" + s.name
	if color != bothColors {
		selector += "," + bluegreen.LabelColor + "=" + color
	}
	pods, err := s.env.Client.CoreV1().Pods(s.env.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return 0, err
	}
	var n int32
	for i := range pods.Items {
		if objects.PodReady(&pods.Items[i]) {
			n++
		}
	}
	return n, nil
}
