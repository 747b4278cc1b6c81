package localcluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/agentic-rag/ragdeploy/internal/localcluster"
	"github.com/agentic-rag/ragdeploy/internal/localcluster/clustertest"
)

func TestMain(m *testing.M) { clustertest.Main(m) }

func labels(app string) map[string]string { return map[string]string{"app": app} }

// podSpec is a minimal pod that passes the "restricted" Pod Security level.
func podSpec() corev1.PodSpec {
	return corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   new(true),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:  "app",
			Image: "agentic-rag/api:1.0.0",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8000}},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: new(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}},
	}
}

func deployment(name string, replicas int32, annotations map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels(name)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels(name), Annotations: annotations},
				Spec:       podSpec(),
			},
		},
	}
}

func service(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Selector: labels(name),
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
}

func pod(name string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels(name), Annotations: annotations},
		Spec:       podSpec(),
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestDeploymentBecomesAvailableAcrossNodes(t *testing.T) {
	env := clustertest.New(t)
	ctx := t.Context()
	if _, err := env.Client.AppsV1().Deployments(env.Namespace).Create(ctx, deployment("web", 3, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().Services(env.Namespace).Create(ctx, service("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, "deployment web available with 3 ready replicas", func(ctx context.Context) (bool, error) {
		d, err := env.Client.AppsV1().Deployments(env.Namespace).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
				return d.Status.ReadyReplicas == 3, nil
			}
		}
		return false, nil
	})
	pods, err := env.Client.CoreV1().Pods(env.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if !podReady(p) || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			t.Errorf("pod %s: phase %s, ready %t, IP %q; want Running, ready, with an IP", p.Name, p.Status.Phase, podReady(p), p.Status.PodIP)
		}
		nodes[p.Spec.NodeName] = true
	}
	if len(pods.Items) != 3 || len(nodes) < 2 {
		t.Errorf("got %d pods on nodes %v; want 3 pods spread over at least 2 kwok nodes", len(pods.Items), nodes)
	}
	clustertest.Eventually(t, 30*time.Second, "service web with 3 ready endpoints", func(ctx context.Context) (bool, error) {
		n, err := clustertest.ReadyEndpoints(ctx, env.Client, env.Namespace, "web")
		return n == 3, err
	})
}

func TestNeverReadyPodStaysOutOfEndpoints(t *testing.T) {
	env := clustertest.New(t)
	ctx := t.Context()
	client, ns := env.Client, env.Namespace
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod("stuck", map[string]string{localcluster.AnnotationNeverReady: "true"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, service("stuck"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// It gets started (Running, with an IP) and is listed as a not-ready endpoint...
	clustertest.Eventually(t, 20*time.Second, "never-ready pod running and listed as a not-ready endpoint", func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "stuck", metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodRunning {
			return false, err
		}
		slices, err := client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=stuck"})
		if err != nil {
			return false, err
		}
		for _, s := range slices.Items {
			if len(s.Endpoints) == 1 {
				return true, nil
			}
		}
		return false, nil
	})
	// ...and stays unready: a ready-immediately pod created now becomes ready
	// while the never-ready one still is not.
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod("witness", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 20*time.Second, "witness pod ready", func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, "witness", metav1.GetOptions{})
		return err == nil && podReady(p), err
	})
	p, err := client.CoreV1().Pods(ns).Get(ctx, "stuck", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if podReady(p) {
		t.Fatalf("pod annotated %s became ready", localcluster.AnnotationNeverReady)
	}
	if n, err := clustertest.ReadyEndpoints(ctx, client, ns, "stuck"); err != nil || n != 0 {
		t.Fatalf("service of a never-ready pod has %d ready endpoints (err %v); want 0", n, err)
	}
}

func TestReadyAfterDelaysReadiness(t *testing.T) {
	env := clustertest.New(t)
	ctx := t.Context()
	created := time.Now()
	p, err := env.Client.CoreV1().Pods(env.Namespace).Create(ctx, pod("slow", map[string]string{localcluster.AnnotationReadyAfter: "3s"}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var readyAt time.Time
	clustertest.Eventually(t, 30*time.Second, "slow pod ready", func(ctx context.Context) (bool, error) {
		p, err = env.Client.CoreV1().Pods(env.Namespace).Get(ctx, "slow", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Status.Phase == corev1.PodRunning && !podReady(p) && readyAt.IsZero() {
			return false, nil // started, not yet ready: as a slow app would be
		}
		if podReady(p) {
			readyAt = time.Now()
			return true, nil
		}
		return false, nil
	})
	if waited := readyAt.Sub(created); waited < 3*time.Second {
		t.Fatalf("pod with %s=3s was ready after %v", localcluster.AnnotationReadyAfter, waited)
	}
	// The Ready condition's transition time agrees with what we observed.
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.LastTransitionTime.Sub(p.CreationTimestamp.Time) < 2*time.Second {
			t.Fatalf("Ready transition at %v, only %v after creation", c.LastTransitionTime, c.LastTransitionTime.Sub(p.CreationTimestamp.Time))
		}
	}
}

func TestCrashingPodRestartsAndStaysUnready(t *testing.T) {
	env := clustertest.New(t)
	ctx := t.Context()
	if _, err := env.Client.CoreV1().Pods(env.Namespace).Create(ctx, pod("crashy", map[string]string{localcluster.AnnotationCrash: "true"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, "crashing pod restarted at least twice", func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(env.Namespace).Get(ctx, "crashy", metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return false, err
		}
		if podReady(p) {
			return false, fmt.Errorf("crashing pod is ready")
		}
		cs := p.Status.ContainerStatuses[0]
		return cs.RestartCount >= 2 && cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff", nil
	})
	p, err := env.Client.CoreV1().Pods(env.Namespace).Get(ctx, "crashy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if podReady(p) {
		t.Fatal("crashing pod became ready")
	}
}

func TestJobPodsSucceedOrFail(t *testing.T) {
	env := clustertest.New(t)
	ctx := t.Context()
	job := func(name string, annotations map[string]string) *batchv1.Job {
		spec := podSpec()
		spec.RestartPolicy = corev1.RestartPolicyNever
		return &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: batchv1.JobSpec{
				BackoffLimit: new(int32(1)),
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
					Spec:       spec,
				},
			},
		}
	}
	for _, j := range []*batchv1.Job{job("migrate-ok", nil), job("migrate-bad", map[string]string{localcluster.AnnotationFail: "true"})} {
		if _, err := env.Client.BatchV1().Jobs(env.Namespace).Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	finished := func(name string, want batchv1.JobConditionType) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			j, err := env.Client.BatchV1().Jobs(env.Namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range j.Status.Conditions {
				if c.Status != corev1.ConditionTrue {
					continue
				}
				if c.Type == want {
					return true, nil
				}
				if c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed {
					return false, fmt.Errorf("job %s finished %s, want %s", name, c.Type, want)
				}
			}
			return false, nil
		}
	}
	clustertest.Eventually(t, 60*time.Second, "job migrate-ok Complete", finished("migrate-ok", batchv1.JobComplete))
	clustertest.Eventually(t, 60*time.Second, "job migrate-bad Failed", finished("migrate-bad", batchv1.JobFailed))
}

func TestRestrictedNamespaceRejectsPrivilegedPod(t *testing.T) {
	env := clustertest.New(t, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	ctx := t.Context()
	privileged := pod("root", nil)
	privileged.Spec.SecurityContext = nil
	privileged.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: new(true)}
	_, err := env.Client.CoreV1().Pods(env.Namespace).Create(ctx, privileged, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Fatalf("creating a privileged pod in a restricted namespace: got %v, want a PodSecurity violation", err)
	}
	// The same namespace admits a pod that meets the restricted level.
	if _, err := env.Client.CoreV1().Pods(env.Namespace).Create(ctx, pod("compliant", nil), metav1.CreateOptions{}); err != nil {
		t.Fatalf("restricted-compliant pod rejected: %v", err)
	}
}

func TestStatefulSetClaimsAreBound(t *testing.T) {
	env := clustertest.New(t)
	ctx := t.Context()
	replicas := int32(2)
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: "db",
			Selector:    &metav1.LabelSelector{MatchLabels: labels("db")},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels("db")},
				Spec:       podSpec(),
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
	sts.Spec.Template.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	if _, err := env.Client.AppsV1().StatefulSets(env.Namespace).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 60*time.Second, "statefulset db with 2 ready replicas", func(ctx context.Context) (bool, error) {
		s, err := env.Client.AppsV1().StatefulSets(env.Namespace).Get(ctx, "db", metav1.GetOptions{})
		return err == nil && s.Status.ReadyReplicas == 2, err
	})
	for _, name := range []string{"data-db-0", "data-db-1"} {
		pvc, err := env.Client.CoreV1().PersistentVolumeClaims(env.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
			t.Fatalf("claim %s: phase %s, volume %q; want Bound to a volume", name, pvc.Status.Phase, pvc.Spec.VolumeName)
		}
		if got := *pvc.Spec.StorageClassName; got != localcluster.StorageClassName {
			t.Fatalf("claim %s has storage class %q; want the default %q", name, got, localcluster.StorageClassName)
		}
		pv, err := env.Client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pv.Status.Phase != corev1.VolumeBound || pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != pvc.UID {
			t.Fatalf("volume %s: phase %s, claimRef %+v; want Bound to claim %s", pv.Name, pv.Status.Phase, pv.Spec.ClaimRef, pvc.UID)
		}
	}
}

func TestStopLeavesNoProcess(t *testing.T) {
	c, err := localcluster.Start(t.Context(), localcluster.Options{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	pids := c.PIDs()
	if len(pids) != 5 {
		t.Fatalf("running components %v; want all 5", pids)
	}
	c.Stop()
	for name, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after Stop (kill -0: %v)", name, pid, err)
		}
		// Nothing is left in its process group either.
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group of %s (%d) still has members after Stop", name, pid)
		}
	}
	if _, err := os.Stat(c.StateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary state directory %s left behind (%v)", c.StateDir, err)
	}
	c.Stop() // a second Stop is harmless
}

// Without renewed node leases, node-lifecycle marks every kwok node NotReady
// once the node-monitor grace period (40-50s) has passed since it was created.
func TestNodesStayReadyPastMonitorGracePeriod(t *testing.T) {
	env := clustertest.New(t)
	nodes, err := env.Client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const age = 60 * time.Second
	oldest := nodes.Items[0].CreationTimestamp.Time
	if wait := age - time.Since(oldest); wait > 0 {
		time.Sleep(wait)
	}
	nodes, err = env.Client.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if !localcluster.NodeReady(n) {
			t.Errorf("node %s not Ready %v after creation: taints %v", n.Name, time.Since(n.CreationTimestamp.Time).Round(time.Second), n.Spec.Taints)
		}
	}
	// Pods still schedule and become ready on them.
	if _, err := env.Client.CoreV1().Pods(env.Namespace).Create(t.Context(), pod("late", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 20*time.Second, "pod ready on an aged node", func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(env.Namespace).Get(ctx, "late", metav1.GetOptions{})
		return err == nil && podReady(p), err
	})
}
