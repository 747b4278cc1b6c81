// Command localcluster measures the local control plane: cold start to ready
// (Start returning: /readyz ok, nodes Ready, default ServiceAccount) and the
// resident memory of all its components once settled. Every run starts from
// an empty state directory. Figures only; nothing here asserts a time.
//
//	go run ./bench/localcluster [-runs 5] [-nodes 3] [-settle 5s]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/agentic-rag/ragdeploy/internal/localcluster"

	"github.com/agentic-rag/ragdeploy/bench/internal/stats"
)

func main() {
	runs := flag.Int("runs", 5, "cold starts to measure")
	nodes := flag.Int("nodes", 3, "kwok nodes per cluster")
	settle := flag.Duration("settle", 5*time.Second, "wait after ready before reading memory")
	flag.Parse()
	if err := run(*runs, *nodes, *settle); err != nil {
		fmt.Fprintf(os.Stderr, "bench/localcluster: %v\n", err)
		os.Exit(1)
	}
}

func run(runs, nodes int, settle time.Duration) error {
	var ready, rss []float64
	fmt.Printf("bench/localcluster: %d cold starts, %d nodes, memory read %v after ready\n", runs, nodes, settle)
	fmt.Printf("%-4s %10s %10s  %s\n", "run", "ready_s", "rss_mib", "per component (MiB)")
	for i := 1; i <= runs; i++ {
		start := time.Now()
		c, err := localcluster.Start(context.Background(), localcluster.Options{Nodes: nodes})
		if err != nil {
			return err
		}
		took := time.Since(start).Seconds()
		time.Sleep(settle)
		total, parts := 0.0, []string{}
		for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
			mib, err := localcluster.ProcessRSSMiB(c.PIDs()[name])
			if err != nil {
				c.Stop()
				return fmt.Errorf("%s: %w", name, err)
			}
			total += mib
			parts = append(parts, fmt.Sprintf("%s=%.0f", name, mib))
		}
		c.Stop()
		ready, rss = append(ready, took), append(rss, total)
		fmt.Printf("%-4d %10.2f %10.0f  %s\n", i, took, total, strings.Join(parts, " "))
	}
	fmt.Printf("ready_s: median %.2f min %.2f max %.2f (goal <= 15)\n", stats.Median(ready), slices.Min(ready), slices.Max(ready))
	fmt.Printf("rss_mib: median %.0f min %.0f max %.0f (goal <= 1536)\n", stats.Median(rss), slices.Min(rss), slices.Max(rss))
	return nil
}
