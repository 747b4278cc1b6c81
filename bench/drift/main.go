// Command drift measures ragdeploy's drift check on the local cluster: for
// 100, 1,000 and 5,000 objects (half ConfigMaps, a quarter Services, a
// quarter Deployments with 0 replicas, applied with server-side apply as a
// release would be), the time of a full check right after apply (which must
// report nothing) and after 10 hand edits (which must report exactly those).
// Three modes on the same objects, in the same process: the baseline sends
// one dry-run request at a time for every object, as `kubectl diff
// --server-side` does (it also GETs each object; the baseline reads them
// with one LIST per kind, so it is a kind baseline); "dry-run all" sends the
// dry runs 32 at a time; "default" (what `ragdeploy drift` does) dry-runs
// only objects whose live state does not already hold every field of the
// last applied manifest. Figures only.
//
//	go run ./bench/drift [-sizes 100,1000,5000] [-runs 5]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

func main() {
	sizes := flag.String("sizes", "100,1000,5000", "object counts to measure")
	runs := flag.Int("runs", 5, "checks per size and mode")
	flag.Parse()
	if err := run(*sizes, *runs); err != nil {
		fmt.Fprintf(os.Stderr, "bench/drift: %v\n", err)
		os.Exit(1)
	}
}

func run(sizes string, runs int) error {
	cluster, err := localcluster.Start(context.Background(), localcluster.Options{Nodes: 1})
	if err != nil {
		return err
	}
	defer cluster.Stop()
	cfg := cluster.RESTConfig
	cfg.QPS, cfg.Burst = -1, 0
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	ctx := context.Background()
	fmt.Printf("bench/drift: %d checks per size; %d requests in flight (baseline: 1)\n", runs, drift.DefaultOptions().Concurrency)
	fmt.Printf("%7s %-11s %10s %10s %10s %8s %s\n", "objects", "mode", "median_ms", "min_ms", "max_ms", "ratio", "result")
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("-sizes: %w", err)
		}
		ns := fmt.Sprintf("drift-%d", n)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
		objs := objects(ns, n)
		if err := applyAll(ctx, c, objs); err != nil {
			return err
		}
		var base float64
		for _, mode := range []string{"baseline", "dry-run all", "default"} {
			opts := drift.DefaultOptions()
			switch mode {
			case "baseline":
				opts.Concurrency, opts.LastApplied = 1, false
			case "dry-run all":
				opts.LastApplied = false
			}
			var times []float64
			for i := 0; i < runs; i++ {
				start := time.Now()
				r, err := drift.Check(ctx, c, objs, opts)
				if err != nil {
					return err
				}
				times = append(times, float64(time.Since(start).Microseconds())/1000)
				if !r.Clean() {
					return fmt.Errorf("%d objects: %d false positives, e.g. %s %+v", n, len(r.Objects), r.Objects[0].Object, r.Objects[0].Changes)
				}
			}
			med := median(times)
			if mode == "baseline" {
				base = med
			}
			fmt.Printf("%7d %-11s %10.1f %10.1f %10.1f %8.2f %s\n", n, mode, med, slices.Min(times), slices.Max(times), med/base, "0 false positives")
		}
		// Ten hand edits: each must be found, nothing else.
		for i := 0; i < 10; i++ {
			cm := &corev1.ConfigMap{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("cm-%d", i)}, cm); err != nil {
				return err
			}
			cm.Data["key"] = "edited"
			if err := c.Update(ctx, cm); err != nil {
				return err
			}
		}
		start := time.Now()
		r, err := drift.Check(ctx, c, objs, drift.DefaultOptions())
		if err != nil {
			return err
		}
		fmt.Printf("%7d %-11s %10.1f %10s %10s %8s %d of 10 edits found, %d reported\n", n, "10 edits", float64(time.Since(start).Microseconds())/1000, "", "", "", found(r), len(r.Objects))
		if err := c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	return nil
}

func found(r *drift.Report) int {
	n := 0
	for _, o := range r.Objects {
		if len(o.Changes) == 1 && o.Changes[0].Path == "/data/key" {
			n++
		}
	}
	return n
}

// objects builds n objects: half ConfigMaps, a quarter Services, a quarter
// Deployments.
func objects(ns string, n int) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	add := func(obj map[string]any) {
		u := &unstructured.Unstructured{Object: obj}
		u.SetNamespace(ns)
		out = append(out, u)
	}
	for i := 0; i < n/2; i++ {
		add(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": fmt.Sprintf("cm-%d", i)},
			"data": map[string]any{"key": "value", "LOG_LEVEL": "info"}})
	}
	for i := 0; i < n/4; i++ {
		labels := map[string]any{"app": fmt.Sprintf("app-%d", i)}
		add(map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": fmt.Sprintf("svc-%d", i)},
			"spec": map[string]any{"selector": labels, "ports": []any{map[string]any{"port": int64(8000), "targetPort": int64(8000)}}}})
		add(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": fmt.Sprintf("dep-%d", i)},
			"spec": map[string]any{"replicas": int64(0), "selector": map[string]any{"matchLabels": labels},
				"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": map[string]any{"containers": []any{
					map[string]any{"name": "api", "image": "agentic-rag/api:1.0.0",
						"resources": map[string]any{"requests": map[string]any{"cpu": "1000m", "memory": "1024Mi"}}},
				}}}}})
	}
	return out
}

func applyAll(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, o := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner("helm"), client.ForceOwnership)
			if err != nil {
				mu.Lock()
				first = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
