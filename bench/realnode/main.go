// Command realnode measures what a real node costs and gives, as a user of
// `ragdeploy local up` sees it: the time `local up --real-nodes 1` takes
// (CoreDNS and the controller's pods included) against a kwok-only `local
// up` in the same run, the resident memory of the node's processes once
// settled, and pod create -> Ready (from a watch) on the real node against a
// kwok node. Runs alternate between the two kinds of cluster. Figures only.
//
//	go run ./bench/realnode [-runs 3] [-pods 5] [-binary bin/ragdeploy]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/agentic-rag/ragdeploy/internal/localcluster"

	"github.com/agentic-rag/ragdeploy/bench/internal/stats"
)

func main() {
	runs := flag.Int("runs", 3, "cluster starts of each kind")
	pods := flag.Int("pods", 5, "pods created one after another per cluster")
	binary := flag.String("binary", "bin/ragdeploy", "the ragdeploy binary (make build)")
	settle := flag.Duration("settle", 5*time.Second, "wait after ready before reading memory")
	flag.Parse()
	if err := run(*binary, *runs, *pods, *settle); err != nil {
		fmt.Fprintf(os.Stderr, "bench/realnode: %v\n", err)
		os.Exit(1)
	}
}

type figures struct {
	up       []float64
	podReady []float64
	rss      map[string][]float64
}

func run(binary string, runs, pods int, settle time.Duration) error {
	exe, err := filepath.Abs(binary)
	if err != nil {
		return err
	}
	real, kwok := &figures{rss: map[string][]float64{}}, &figures{rss: map[string][]float64{}}
	fmt.Printf("bench/realnode: %d starts each of `local up --real-nodes 1` and `local up`, %d pods per cluster\n", runs, pods)
	for i := 1; i <= runs; i++ {
		for _, realNode := range []bool{true, false} {
			f := kwok
			if realNode {
				f = real
			}
			if err := once(exe, realNode, pods, settle, f); err != nil {
				return err
			}
			fmt.Printf("run %d real=%-5t up %.2fs, pod Ready median %.0f ms\n", i, realNode, f.up[len(f.up)-1], 1000*stats.Median(f.podReady[len(f.podReady)-pods:]))
		}
	}
	fmt.Printf("\nlocal up (s):          real node median %.2f (min %.2f max %.2f); kwok only median %.2f; ratio %.1fx\n",
		stats.Median(real.up), slices.Min(real.up), slices.Max(real.up), stats.Median(kwok.up), stats.Median(real.up)/stats.Median(kwok.up))
	fmt.Printf("pod create -> Ready:   real node median %.0f ms (p90 %.0f); kwok node median %.0f ms; ratio %.1fx\n",
		1000*stats.Median(real.podReady), 1000*stats.Percentile(real.podReady, 0.9), 1000*stats.Median(kwok.podReady), stats.Median(real.podReady)/stats.Median(kwok.podReady))
	fmt.Println("real node memory (RSS MiB, median of runs, summed per process name):")
	names := make([]string, 0, len(real.rss))
	for n := range real.rss {
		names = append(names, n)
	}
	sort.Strings(names)
	total := 0.0
	for _, n := range names {
		m := stats.Median(real.rss[n])
		total += m
		fmt.Printf("  %-18s %6.0f\n", n, m)
	}
	fmt.Printf("  %-18s %6.0f\n", "total", total)
	return nil
}

// once starts a cluster, times it, reads the real node's memory, times
// pods and stops it.
func once(exe string, realNode bool, pods int, settle time.Duration, f *figures) error {
	dir, err := os.MkdirTemp("", "bench-realnode-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	state := filepath.Join(dir, "state")
	args := []string{"local", "up", "--state-dir", state, "--nodes", "1"}
	if realNode {
		args = append(args, "--real-nodes", "1")
	} else {
		args = append(args, "--no-controller")
	}
	start := time.Now()
	if out, err := exec.Command(exe, args...).CombinedOutput(); err != nil { //nolint:gosec // G204: the ragdeploy binary under measurement, arguments as a list
		return fmt.Errorf("local up: %w\n%s", err, out)
	}
	f.up = append(f.up, time.Since(start).Seconds())
	defer func() { _ = exec.Command(exe, "local", "down", "--state-dir", state).Run() }() //nolint:gosec // G204: as above
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(state, "kubeconfig"))
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if realNode {
		time.Sleep(settle) // memory settles after start-up; a duration by design
		pids, err := localcluster.RealNodeProcesses(state)
		if err != nil {
			return err
		}
		byName := map[string]float64{}
		for _, pid := range pids {
			comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if err != nil {
				continue
			}
			mib, err := localcluster.ProcessRSSMiB(pid)
			if err == nil {
				byName[strings.TrimSpace(string(comm))] += mib
			}
		}
		for n, v := range byName {
			f.rss[n] = append(f.rss[n], v)
		}
	}
	for i := range pods {
		took, err := podReady(cs, fmt.Sprintf("bench-%d", i), realNode)
		if err != nil {
			return err
		}
		f.podReady = append(f.podReady, took.Seconds())
	}
	return nil
}

// podReady creates an api stand-in pod and returns the time from the create
// call to the watch event that shows it Ready.
func podReady(cs kubernetes.Interface, name string, realNode bool) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "api", Image: "agentic-rag/api:1.0.0",
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr8000}}, PeriodSeconds: 1},
		}}},
	}
	if realNode {
		pod.Spec.NodeSelector = map[string]string{localcluster.RealNodeLabel: "real"}
		pod.Spec.Tolerations = []corev1.Toleration{{Key: localcluster.RealNodeTaintKey, Operator: corev1.TolerationOpExists}}
	}
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	start := time.Now()
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			return 0, fmt.Errorf("watch: %v", ev.Object)
		}
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return time.Since(start), nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s: no Ready event: %w", name, ctx.Err())
}

var intstr8000 = intstr.FromInt32(8000)
