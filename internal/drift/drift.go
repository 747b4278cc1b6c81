// Package drift compares the live cluster with the objects a release should
// have, the way Argo CD's server-side diff and Flux's drift detection do: each
// desired object is applied with server-side apply in dry-run mode, and the
// API server's answer (defaults filled in, quantities canonical, fields other
// managers own left alone) is compared with the live object. Only what the
// applier owns and has changed, or objects that are gone, count as drift.
package drift

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/agentic-rag/ragdeploy/internal/envconfig"
	"github.com/agentic-rag/ragdeploy/internal/objects"
)

// State of one object.
type State string

// States.
const (
	InSync  State = "InSync"
	Drifted State = "Drifted"
	Missing State = "Missing"
)

// Object is the report of one object.
type Object struct {
	Ref     objects.Ref `json:"-"`
	Kind    string      `json:"kind"`
	Object  string      `json:"object"`
	State   State       `json:"state"`
	Changes []Change    `json:"changes,omitempty"`

	desired *unstructured.Unstructured
}

// Report is the result of a drift check.
type Report struct {
	Checked int      `json:"checked"`
	Objects []Object `json:"drifted"`
	// Environment is the environment the release was deployed as ("" when
	// it does not say), for the drift metrics' labels.
	Environment string `json:"-"`
}

// Clean is true when nothing drifted.
func (r *Report) Clean() bool { return len(r.Objects) == 0 }

// Signature identifies what drifted (objects and fields, no values): equal
// signatures mean nothing new to report.
func (r *Report) Signature() string {
	var b strings.Builder
	for _, o := range r.Objects {
		b.WriteString(o.Object + ":" + string(o.State))
		for _, c := range o.Changes {
			b.WriteString(" " + c.Path)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Options tune a check.
type Options struct {
	// FieldManager is the server-side apply manager that owns the desired
	// fields (the one the release was applied with).
	FieldManager string
	// Concurrency is the number of dry-run requests in flight.
	Concurrency int
	Ignore      []objects.IgnoreRule
	// Adopt, when set, copies into the desired object the fields another
	// controller owns in the live one, before the dry run.
	Adopt func(desired, live *unstructured.Unstructured)
	// LastApplied says the desired objects are the ones the field manager
	// applied last (a drift check against the deployed revision): an object
	// whose live state covers every desired field is in sync without a dry
	// run. Leave it off when comparing a new manifest (a diff), where a
	// field dropped from the manifest must show.
	LastApplied bool
	// DryRunMissing sends missing objects to the API server as a dry-run
	// create too, so that everything a real apply would reject is found
	// before anything is written (an install's or upgrade's check).
	DryRunMissing bool
}

// DefaultOptions are the options of `ragdeploy drift`.
func DefaultOptions() Options {
	return Options{FieldManager: "helm", Concurrency: 32, LastApplied: true}
}

// Check compares every desired object with the live cluster. Secret values
// are compared by fingerprint and never appear in the report.
func Check(ctx context.Context, c client.Client, desired []*unstructured.Unstructured, opts Options) (*Report, error) {
	if opts.Concurrency < 1 {
		opts.Concurrency = 1
	}
	opts.Ignore = append(slices.Clone(opts.Ignore), hpaOwnedReplicas(desired)...)
	live := objects.NewLive(c)
	results := make([]Object, len(desired))
	errs := make([]error, len(desired))
	sem := make(chan struct{}, opts.Concurrency)
	var wg sync.WaitGroup
	for i, d := range desired {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], errs[i] = checkOne(ctx, c, live, d, opts)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	report := &Report{Checked: len(desired)}
	for _, r := range results {
		if r.State != InSync {
			report.Objects = append(report.Objects, r)
		}
	}
	sort.Slice(report.Objects, func(i, j int) bool { return report.Objects[i].Object < report.Objects[j].Object })
	return report, nil
}

// hpaOwnedReplicas ignores the replicas of every object an HPA among the
// desired ones scales: the HPA owns them, whatever the manifest said when it
// was applied.
func hpaOwnedReplicas(desired []*unstructured.Unstructured) []objects.IgnoreRule {
	var rules []objects.IgnoreRule
	for _, w := range objects.ScaledByHPA(desired) {
		if !strings.ContainsAny(w.Name, "*?[") {
			rules = append(rules, objects.IgnoreRule{Kind: w.Kind, Name: w.Name, Pointers: []string{"/spec/replicas"}})
		}
	}
	return rules
}

func checkOne(ctx context.Context, c client.Client, live *objects.Live, desired *unstructured.Unstructured, opts Options) (Object, error) {
	ref := objects.RefOf(desired)
	res := Object{Ref: ref, Kind: ref.Kind, Object: ref.String(), State: InSync}
	cur, err := live.Get(ctx, ref)
	if err != nil {
		return res, err
	}
	if cur == nil {
		res.State, res.desired = Missing, desired.DeepCopy()
		if opts.DryRunMissing {
			if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired.DeepCopy()), client.DryRunAll,
				client.FieldOwner(opts.FieldManager), client.ForceOwnership); err != nil {
				return res, fmt.Errorf("%s: server-side dry-run apply: %w", ref, err)
			}
		}
		return res, nil
	}
	if opts.LastApplied && covers(cur.Object, opts.adopted(desired, cur).Object) {
		return res, nil
	}
	var predicted *unstructured.Unstructured
	// The dry run answers from the object as stored now; when that is newer
	// than the listed one (a controller wrote to it in between), compare
	// with a fresh read instead, so a concurrent write is not taken for drift.
	for attempt := 0; ; attempt++ {
		predicted = opts.adopted(desired, cur)
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(predicted), client.DryRunAll,
			client.FieldOwner(opts.FieldManager), client.ForceOwnership); err != nil {
			return res, fmt.Errorf("%s: server-side dry-run apply: %w", ref, err)
		}
		if predicted.GetResourceVersion() == cur.GetResourceVersion() || attempt == 3 {
			break
		}
		fresh := &unstructured.Unstructured{}
		fresh.SetGroupVersionKind(ref.GroupVersionKind)
		if err := c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, fresh); apierrors.IsNotFound(err) {
			res.State, res.desired = Missing, desired.DeepCopy()
			return res, nil
		} else if err != nil {
			return res, fmt.Errorf("%s: %w", ref, err)
		}
		cur = fresh
	}
	res.Changes = compare(ref, envconfig.Redact(cur), envconfig.Redact(predicted), opts.Ignore)
	if len(res.Changes) > 0 {
		res.State, res.desired = Drifted, opts.adopted(desired, cur)
	}
	return res, nil
}

// adopted is a copy of desired with the fields Adopt takes from live.
func (o Options) adopted(desired, live *unstructured.Unstructured) *unstructured.Unstructured {
	out := desired.DeepCopy()
	if o.Adopt != nil {
		o.Adopt(out, live)
	}
	return out
}

// Fix re-applies the drifted and missing objects of a report (and nothing
// else) with server-side apply, taking the fields back from whoever changed
// them.
func Fix(ctx context.Context, c client.Client, report *Report, fieldManager string) error {
	for _, o := range report.Objects {
		obj := o.desired.DeepCopy()
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("%s: apply: %w", o.Ref, err)
		}
	}
	return nil
}
