package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/drift"
	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// undo returns the cluster to its state before a failed Upgrade, the way
// Helm's rollback-on-failure does, for what ragdeploy adds too: a first
// install leaves nothing (its namespace included, when it made it), an
// upgrade leaves the previous revision serving.
type undo struct {
	m     *Manager
	c     client.Client
	t     Target
	start time.Time
	// namespace: the command created the release namespace.
	namespace bool
	// prev is the deployed revision before the command (nil: first install).
	prev *Revision
	// helm: the chart may have been (partly) applied.
	helm bool
	// created are the release's objects that did not exist before.
	created []objects.Ref
	// secrets are the environment's Secrets as they were (nil: absent).
	secrets map[objects.Ref]*unstructured.Unstructured
}

// recordSecrets remembers the Secrets an apply is about to change.
func (u *undo) recordSecrets(ctx context.Context, secrets []*unstructured.Unstructured) error {
	live := objects.NewLive(u.c)
	u.secrets = map[objects.Ref]*unstructured.Unstructured{}
	for _, s := range secrets {
		ref := objects.RefOf(s)
		cur, err := live.Get(ctx, ref)
		if err != nil {
			return err
		}
		u.secrets[ref] = cur
	}
	return nil
}

// run undoes what the command did and returns cause with what was undone;
// a step that fails is reported too, so nothing is hidden.
func (u *undo) run(ctx context.Context, cause error) error {
	ctx = context.WithoutCancel(ctx)
	var done []string
	var errs []error
	step := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		} else if what != "" {
			done = append(done, what)
		}
	}
	switch {
	case u.namespace:
		// Everything the command made lives in the namespace it made.
		if err := u.dropNamespace(ctx); err != nil {
			step("delete namespace "+u.t.Namespace, err)
		} else {
			step("deleted namespace "+u.t.Namespace+", which it had created, with all it held", nil)
		}
	case u.prev == nil:
		if u.helm {
			if err := u.uninstall(); err != nil {
				step("uninstall the failed release", err)
			} else {
				step("uninstalled the failed release", nil)
			}
		}
		step(u.deleteCreated(ctx))
		step(u.restoreSecrets(ctx))
		step(u.deleteNewClaims(ctx))
	default:
		if u.helm {
			step(u.restorePrevious(ctx))
		}
		step(u.deleteCreated(ctx))
		step(u.restoreSecrets(ctx))
	}
	msg := "nothing had been changed"
	if len(done) > 0 {
		msg = "rolled back: " + strings.Join(done, "; ")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w\n%s; rollback incomplete: %w", cause, msg, errors.Join(errs...))
	}
	return fmt.Errorf("%w\n%s", cause, msg)
}

// dropNamespace deletes the namespace the command created and waits until
// it is gone, so the next command does not meet it terminating.
func (u *undo) dropNamespace(ctx context.Context) error {
	if !u.namespace {
		return nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: u.t.Namespace}}
	if err := client.IgnoreNotFound(u.c.Delete(ctx, ns)); err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		err := u.c.Get(ctx, client.ObjectKey{Name: u.t.Namespace}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

func (u *undo) uninstall() error {
	if found, err := u.m.exists(); err != nil || !found {
		return err
	}
	un := action.NewUninstall(u.m.helm)
	un.WaitStrategy, un.Timeout = kube.StatusWatcherStrategy, 2*time.Minute
	_, err := un.Run(u.t.Name)
	return err
}

// restorePrevious applies the previous revision's objects again, as Helm
// recorded them, with the live color kept in the Service selectors (the
// release record keeps the failed revision as failed; the previous one stays
// the deployed one). A stored release holds no subcharts, so its chart cannot
// be rendered again: its manifest is what is restored.
func (u *undo) restorePrevious(ctx context.Context) (string, error) {
	objs, err := u.prev.Objects()
	if err != nil {
		return "restore revision", err
	}
	restored, err := withLive(ctx, objects.NewLive(u.c), owned(unstructuredOf(objs), u.t.Name, u.t.Namespace))
	if err != nil {
		return "restore revision", err
	}
	for _, d := range restored {
		if err := u.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(d), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return "restore revision", fmt.Errorf("%s: %w", objects.RefOf(d), err)
		}
	}
	return fmt.Sprintf("restored the %d objects of revision %d, which stays the deployed one", len(objs), u.prev.Number), nil
}

// deleteCreated deletes the release objects the command created.
func (u *undo) deleteCreated(ctx context.Context) (string, error) {
	n := 0
	for _, ref := range u.created {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(ref.GroupVersionKind)
		obj.SetNamespace(ref.Namespace)
		obj.SetName(ref.Name)
		err := u.c.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "delete created objects", fmt.Errorf("%s: %w", ref, err)
		}
		n++
	}
	if n == 0 {
		return "", nil
	}
	return fmt.Sprintf("deleted %d objects it created", n), nil
}

// restoreSecrets puts each Secret back as it was, or deletes it when the
// command created it.
func (u *undo) restoreSecrets(ctx context.Context) (string, error) {
	deleted, restored := 0, 0
	for ref, before := range u.secrets {
		if before == nil {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}}
			if err := client.IgnoreNotFound(u.c.Delete(ctx, s)); err != nil {
				return "restore Secrets", fmt.Errorf("%s: %w", ref, err)
			}
			deleted++
			continue
		}
		if err := replaceSecret(ctx, u.c, before); err != nil {
			return "restore Secrets", err
		}
		restored++
	}
	var parts []string
	if deleted > 0 {
		parts = append(parts, fmt.Sprintf("deleted %d Secrets it created", deleted))
	}
	if restored > 0 {
		parts = append(parts, fmt.Sprintf("restored %d Secrets as they were", restored))
	}
	return strings.Join(parts, "; "), nil
}

// deleteNewClaims deletes the release's PersistentVolumeClaims made since the
// command started (its StatefulSets' claims of a failed first install).
func (u *undo) deleteNewClaims(ctx context.Context) (string, error) {
	var pvcs corev1.PersistentVolumeClaimList
	if err := u.c.List(ctx, &pvcs, client.InNamespace(u.t.Namespace), client.MatchingLabels{"app.kubernetes.io/instance": u.t.Name}); err != nil {
		return "delete new claims", err
	}
	n := 0
	for i := range pvcs.Items {
		p := &pvcs.Items[i]
		if p.CreationTimestamp.Time.Before(u.start.Truncate(time.Second)) {
			continue
		}
		if err := client.IgnoreNotFound(u.c.Delete(ctx, p)); err != nil {
			return "delete new claims", err
		}
		n++
	}
	if n == 0 {
		return "", nil
	}
	// Claims go once no pod uses them (pvc-protection): wait for that, and
	// for any a StatefulSet being deleted still made meanwhile.
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := u.c.List(ctx, &pvcs, client.InNamespace(u.t.Namespace), client.MatchingLabels{"app.kubernetes.io/instance": u.t.Name}); err != nil {
			return false, err
		}
		left := 0
		for i := range pvcs.Items {
			if p := &pvcs.Items[i]; !p.CreationTimestamp.Time.Before(u.start.Truncate(time.Second)) {
				left++
				if p.DeletionTimestamp == nil {
					_ = client.IgnoreNotFound(u.c.Delete(ctx, p))
				}
			}
		}
		return left == 0, nil
	})
	if err != nil {
		return "delete new claims", err
	}
	return fmt.Sprintf("deleted %d claims it created", n), nil
}

// missingReleaseObjects are the objects a report says do not exist yet,
// but for the environment's Secrets (restoreSecrets takes care of those).
func (u *undo) missingReleaseObjects(r *drift.Report) []objects.Ref {
	var out []objects.Ref
	for _, o := range r.Objects {
		if _, secret := u.secrets[o.Ref]; o.State == drift.Missing && !secret {
			out = append(out, o.Ref)
		}
	}
	return out
}
