package cli

import (
	"context"
	"fmt"
	"sort"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/agentic-rag/ragdeploy/internal/localcluster"
)

// localStatus prints the components with their PIDs and whether they run,
// then the nodes as the API server reports them.
func localStatus(ctx context.Context, o *localOptions) error {
	s, ok := o.running()
	if !ok {
		return errNotRunning(o.StateDir)
	}
	out := o.streams.Out
	fmt.Fprintf(out, "Local cluster running since %s (supervisor pid %d)\n", s.StartedAt.Format(time.RFC3339), s.PID)
	fmt.Fprintf(out, "API server:  %s\nKubeconfig:  %s\n\n", s.Server, s.Kubeconfig)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "COMPONENT\tPID\tSTATE")
	names := make([]string, 0, len(s.Components))
	for name := range s.Components {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		state := "running"
		if !localcluster.ProcessAlive(s.Components[name], name) {
			state = "exited"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\n", name, s.Components[name], state)
	}
	_ = w.Flush()
	switch {
	case s.ControllerRelease != "":
		fmt.Fprintf(out, "\nRollout controller: the chart's pods on the real node (Helm release %s)\n", s.ControllerRelease)
	case s.ControllerLog != "":
		fmt.Fprintf(out, "\nRollout controller: running in the supervisor (log %s)\n", s.ControllerLog)
	default:
		fmt.Fprintln(out, "\nRollout controller: not running (--no-controller)")
	}
	if s.Registry != "" {
		fmt.Fprintf(out, "Image registry: %s (the real nodes' mirror of every registry; add images with `local load`)\n", s.Registry)
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes from %s: %w", s.Server, err)
	}
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tTYPE\tREADY\tZONE")
	for i := range nodes.Items {
		n := &nodes.Items[i]
		kind := "kwok"
		if n.Labels[localcluster.RealNodeLabel] == "real" {
			kind = "real"
		}
		fmt.Fprintf(w, "%s\t%s\t%t\t%s\n", n.Name, kind, localcluster.NodeReady(n), n.Labels["topology.kubernetes.io/zone"])
	}
	return w.Flush()
}
