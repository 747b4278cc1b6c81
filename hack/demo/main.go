// Command demo is `make demo`'s program, run after `ragdeploy local up`
// (which runs the controller next to the control plane). On the local
// cluster it installs the controller chart, deploys the platform's staging
// environment with SOPS-encrypted secrets, rolls out version 1.1.0
// blue-green (preview, pre-promotion check, switch, old color kept warm,
// then scaled down), rolls out 1.2.0-regress, which passes its preview
// check but fails after the switch and is rolled back automatically, rolls
// out 1.3.0 as a canary (that release alone), step by step, checks for
// drift, and prints a timeline with the measured switch and rollback
// times. With a real node (make demo starts one where it can) the api runs
// there as real containers, the controller as the chart's pods, and traffic
// flows through the active Service throughout; on kwok nodes only, the
// api's /health is answered by simapp (pods run nothing there).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/agentic-rag/ragdeploy/api/v1alpha1"
	"github.com/agentic-rag/ragdeploy/charts"
	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/simapp"
	"github.com/agentic-rag/ragdeploy/internal/prober"
	"github.com/agentic-rag/ragdeploy/internal/release"
	"github.com/agentic-rag/ragdeploy/internal/render"
)

func main() {
	// The demo reports through its own output; controller-runtime's clients
	// would otherwise warn that no logger was set.
	ctrllog.SetLogger(logr.Discard())
	release.UseHelmFieldManager()
	// A flag set of its own: controller-runtime registers a global --kubeconfig.
	flags := flag.NewFlagSet("demo", flag.ExitOnError)
	kubeconfig := flags.String("kubeconfig", ".ragdeploy/local/kubeconfig", "kubeconfig of the local cluster")
	state := flags.String("state", ".ragdeploy/demo", "directory for the demo's age key and encrypted secrets")
	_ = flags.Parse(os.Args[1:])
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if err := run(ctx, *kubeconfig, *state); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// realNodeSets put the api on the real node (the stateful components stay
// on kwok nodes: their images cannot be had here).
var realNodeSets = []string{
	`api.nodeSelector.ragdeploy\.io/node-type=real`,
	"api.tolerations[0].key=ragdeploy.io/real-node",
	"api.tolerations[0].operator=Exists",
}

// demoSets shorten the staging environment's timings for the demo and add a
// post-promotion check (staging has none) so a regression is caught after
// the switch.
var demoSets = []string{
	"api.blueGreen.scaleDownDelaySeconds=8",
	"api.blueGreen.postPromotionAnalysis[0].name=live",
	"api.blueGreen.postPromotionAnalysis[0].count=5",
	"api.blueGreen.postPromotionAnalysis[0].intervalSeconds=1",
	"api.blueGreen.postPromotionAnalysis[0].http.url=placeholder",
	"api.blueGreen.postPromotionAnalysis[0].http.jsonField=status",
	"api.blueGreen.postPromotionAnalysis[0].http.jsonValue=ok",
}

func run(ctx context.Context, kubeconfig, state string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		return err
	}
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: v1alpha1.Scheme()})
	if err != nil {
		return err
	}
	d := &demo{c: c, wc: wc, start: time.Now()}

	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return err
	}
	fmt.Println("== Local cluster")
	realNode := false
	for i := range nodes.Items {
		n := &nodes.Items[i]
		kind := "kwok (simulated pods)"
		if n.Labels[localcluster.RealNodeLabel] == "real" {
			kind, realNode = "real (containerd, kubelet, kube-proxy)", true
		}
		fmt.Printf("  %-12s ready=%-5t %s\n", n.Name, localcluster.NodeReady(n), kind)
	}
	if !realNode {
		fmt.Println("  no real node: the api's pods are simulated and its /health is answered by a stand-in process")
	}

	fmt.Println("\n== Controller chart: charts/ragdeploy as Helm release ragdeploy-system/ragdeploy")
	if err := d.installController(ctx, kubeconfig); err != nil {
		return err
	}

	fmt.Println("\n== Secrets: an age key and the staging credentials encrypted with SOPS")
	env, err := d.environment(ctx, state)
	if err != nil {
		return err
	}
	var sets []string
	postURL := "http://{{.ActiveService}}.{{.Namespace}}.svc:8000/health"
	if realNode {
		// The api runs on the real node; the in-cluster controller's checks
		// reach its Services by their cluster DNS names.
		sets = append(sets, realNodeSets...)
	} else {
		app, err := simapp.Start(c)
		if err != nil {
			return err
		}
		defer app.Close()
		sets = app.AnalysisSets(env.Values)
		postURL = app.HealthURL(".ActiveService")
	}
	for _, s := range demoSets {
		if s == "api.blueGreen.postPromotionAnalysis[0].http.url=placeholder" {
			s = "api.blueGreen.postPromotionAnalysis[0].http.url=" + postURL
		}
		sets = append(sets, s)
	}
	if d.release, err = release.NewManager(release.Target{Kubeconfig: kubeconfig, Namespace: env.Release.Namespace, Name: env.Release.Name}); err != nil {
		return err
	}
	d.env, d.sets = env, sets

	fmt.Printf("\n== Platform: environment staging, api 1.0.0, into namespace %s\n", env.Release.Namespace)
	if err := d.deploy(ctx, "1.0.0"); err != nil {
		return err
	}
	d.milestone("platform installed: release %s revision %d", d.release.Target, d.revision())
	if realNode {
		cs, err := kubernetes.NewForConfig(prober.Config(cfg, 20))
		if err != nil {
			return err
		}
		d.traffic = prober.Start(ctx, cs, prober.ServiceOptions{Namespace: env.Release.Namespace, Name: env.Release.Name + "-api", Rate: 20})
		d.progress("traffic: 20 requests/s to the active Service, through the API server's service proxy")
	}

	fmt.Println("\n== Version 1.1.0: blue-green rollout (preview, pre-promotion check, switch, old color warm, then scaled down)")
	v2, err := d.rollout(ctx, "1.1.0", false)
	if err != nil {
		return err
	}

	fmt.Println("\n== Version 1.2.0-regress: passes its preview check, fails after the switch")
	v3, err := d.rollout(ctx, "1.2.0-regress", true)
	if err != nil {
		return err
	}

	fmt.Println("\n== Version 1.3.0: canary (25%, held 5s, 50%, held 5s, then promoted), for this release only")
	if err := d.canary(ctx, "1.3.0"); err != nil {
		return err
	}

	fmt.Println("\n== Drift check")
	plan, err := release.Prepare(ctx, env, nil)
	if err != nil {
		return err
	}
	start := time.Now()
	report, err := d.release.Drift(ctx, plan)
	if err != nil {
		return err
	}
	if !report.Clean() {
		return fmt.Errorf("drift after the demo: %+v", report.Objects)
	}
	d.milestone("drift check: %d objects compared with the release, none drifted (%dms)", report.Checked, time.Since(start).Milliseconds())

	fmt.Println("\n== Timeline")
	for _, l := range d.timeline {
		fmt.Println("  " + l)
	}
	fmt.Println("\n== Measured (from watch events)")
	fmt.Printf("  1.1.0 ready and checked -> active Service switched:           %4d ms\n", v2.switchTook.Milliseconds())
	fmt.Printf("  1.2.0-regress ready and checked -> active Service switched:   %4d ms\n", v3.switchTook.Milliseconds())
	fmt.Printf("  1.2.0-regress failed check -> active Service back on %-5s    %4d ms\n", v3.stable, v3.rollbackTook.Milliseconds())
	fmt.Printf("  1.2.0-regress served for %d ms: from the switch through its first (failed) post-promotion check to the rollback\n", v3.exposed.Milliseconds())
	fmt.Printf("  demo total: %.1fs\n", time.Since(d.start).Seconds())
	fmt.Printf("\n  Try: bin/ragdeploy rollout history --env %s --kubeconfig %s\n", env.Name, kubeconfig)
	fmt.Printf("       bin/ragdeploy drift --env staging --kubeconfig %s\n", kubeconfig)
	fmt.Printf("       bin/ragdeploy env diff staging production\n")
	return nil
}

// installController installs the controller chart. On the local cluster its
// pods are simulated by kwok; the controller that acts is the one `ragdeploy
// local up` runs next to the control plane.
func (d *demo) installController(ctx context.Context, kubeconfig string) error {
	m, err := release.NewManager(release.Target{Kubeconfig: kubeconfig, Namespace: "ragdeploy-system", Name: "ragdeploy"})
	if err != nil {
		return err
	}
	if rev, err := m.Deployed(); err != nil {
		return err
	} else if rev != nil {
		d.progress("already installed (revision %d)", rev.Number)
		return nil
	}
	c, err := render.LoadChart(charts.FS, "ragdeploy")
	if err != nil {
		return err
	}
	plan, err := release.PrepareChart(ctx, c, m.Target, map[string]any{"replicas": 1})
	if err != nil {
		return err
	}
	// ApplyChart makes the namespace, restricted, when it is missing.
	if _, err := m.ApplyChart(ctx, plan, release.Options{Timeout: 2 * time.Minute}); err != nil {
		return err
	}
	d.milestone("controller chart %s installed (CRD, RBAC, Deployment, metrics Service)", c.Metadata.Version)
	return nil
}

// environment writes an age key and the encrypted staging secrets under
// state (once: a value for each Secret key the chart reads) and returns the
// staging environment reading them.
func (d *demo) environment(ctx context.Context, state string) (*envconfig.Environment, error) {
	keyFile, secretsFile := filepath.Join(state, "age.key"), filepath.Join(state, "staging.secrets.yaml")
	env, err := envconfig.Load("environments/staging.yaml")
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(secretsFile); err != nil {
		// A key left without its secrets file (an interrupted run) is of no use.
		if err := os.Remove(keyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		recipient, err := envconfig.NewAgeIdentity(keyFile)
		if err != nil {
			return nil, err
		}
		plan, err := release.Prepare(ctx, env, nil)
		if err != nil {
			return nil, err
		}
		secrets := map[string]map[string]string{}
		for _, k := range plan.SecretKeys() {
			if secrets[k.Secret] == nil {
				secrets[k.Secret] = map[string]string{}
			}
			secrets[k.Secret][k.Key] = fmt.Sprintf("demo-%s-%d", k.Secret, time.Now().UnixNano())
		}
		plain, err := yaml.Marshal(map[string]any{"secrets": secrets})
		if err != nil {
			return nil, err
		}
		enc, err := envconfig.EncryptSecrets(plain, recipient)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(secretsFile, enc, 0o600); err != nil {
			return nil, err
		}
	}
	if err := os.Setenv("SOPS_AGE_KEY_FILE", keyFile); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(secretsFile)
	if err != nil {
		return nil, err
	}
	env.Secrets.File = abs
	data, err := envconfig.DecryptSecrets(abs)
	if err != nil {
		return nil, err
	}
	for _, s := range env.SecretObjects(data) {
		d.progress("Secret %s: %d keys, decrypted in memory (values never printed)", s.GetName(), len(data[s.GetName()]))
	}
	return env, nil
}
