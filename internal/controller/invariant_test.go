package controller_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/agentic-rag/ragdeploy/internal/bluegreen"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
)

// watcher samples the active Service every few milliseconds during a
// scenario and records a violation when, after the first switch, the active
// Service has no ready endpoint, or when it moves to a color with fewer
// ready pods than the desired replicas.
type watcher struct {
	mu           sync.Mutex
	violations   []string
	samples      int
	sampleErrors int
	lastError    string
	cancel       context.CancelFunc
	done         chan struct{}
}

// watchInvariants starts the watcher; check() stops it and fails the test on
// any violation.
func (s *scenario) watchInvariants() *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var lastColor string
		served := false
		for ctx.Err() == nil {
			w.sample(ctx, s, &lastColor, &served)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	s.t.Cleanup(func() { w.check(s) })
	return w
}

func (w *watcher) sample(ctx context.Context, s *scenario, lastColor *string, served *bool) {
	svc, err := s.env.Client.CoreV1().Services(s.env.Namespace).Get(ctx, "api", metav1.GetOptions{})
	if err != nil {
		return
	}
	color := svc.Spec.Selector[bluegreen.LabelColor]
	if color == "" {
		return
	}
	w.mu.Lock()
	w.samples++
	w.mu.Unlock()
	if color != *lastColor {
		bgd := s.getQuiet(ctx)
		ready, err := s.readyPods(ctx, color)
		if bgd == nil || bgd.Spec.Replicas == nil || err != nil {
			// An API error (e.g. throttling under load) is no evidence either
			// way: sample again.
			w.mu.Lock()
			w.sampleErrors++
			w.lastError = fmt.Sprintf("BlueGreenDeployment read: %t, pods: %v", bgd != nil, err)
			w.mu.Unlock()
			return
		}
		if ready < *bgd.Spec.Replicas {
			w.violate(fmt.Sprintf("active Service moved %q -> %q with %d/%d ready pods", *lastColor, color, ready, *bgd.Spec.Replicas))
		}
		*lastColor = color
	}
	n, err := clustertest.ReadyEndpoints(ctx, s.env.Client, s.env.Namespace, "api")
	if err != nil {
		return
	}
	if n > 0 {
		*served = true
	} else if *served {
		w.violate(fmt.Sprintf("active Service selecting %s had no ready endpoint", color))
	}
}

func (w *watcher) violate(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.violations = append(w.violations, time.Now().Format("15:04:05.000")+" "+msg)
}

func (w *watcher) check(s *scenario) {
	if w.cancel == nil {
		return
	}
	w.cancel()
	<-w.done
	w.cancel = nil
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sampleErrors > 0 {
		s.t.Logf("invariant watcher: %d samples retried after API errors (last: %s)", w.sampleErrors, w.lastError)
	}
	if w.samples == 0 {
		s.t.Error("invariant watcher took no sample of a selected active Service")
	}
	for _, v := range w.violations {
		s.t.Errorf("invariant violated: %s", v)
	}
}

// readyPods counts ready, non-terminating pods of a color.
func (s *scenario) readyPods(ctx context.Context, color string) (int32, error) {
	pods, err := s.env.Client.CoreV1().Pods(s.env.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: bluegreen.LabelName + "=" + s.name + "," + bluegreen.LabelColor + "=" + color,
	})
	if err != nil {
		return 0, err
	}
	var n int32
	for i := range pods.Items {
		if bluegreen.PodReady(&pods.Items[i]) {
			n++
		}
	}
	return n, nil
}
