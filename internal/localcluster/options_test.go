package localcluster

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeBinDir creates the five binaries as shell scripts running script.
func fakeBinDir(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range binaries {
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil { //nolint:gosec // G306: temporary test file
			t.Fatal(err)
		}
	}
	return dir
}

func TestDefaultOptions(t *testing.T) {
	d := DefaultOptions()
	if d.Nodes != 3 || d.ReadyTimeout != 60*time.Second || d.StopTimeout != 5*time.Second {
		t.Fatalf("DefaultOptions() = %+v; want 3 nodes, 60s ready timeout, 5s stop timeout", d)
	}
}

func TestResolve(t *testing.T) {
	bins := fakeBinDir(t, "exit 0")
	tests := []struct {
		name string
		// in are the options given to Resolve.
		in Options
		// want is compared field by field when wantErr is empty.
		want Options
		// wantErr is a substring of the expected error.
		wantErr string
	}{
		{name: "zero value gets defaults", in: Options{BinDir: bins},
			want: Options{BinDir: bins, Nodes: 3, ReadyTimeout: 60 * time.Second, StopTimeout: 5 * time.Second, KubeProxyMinSyncPeriod: time.Second}},
		{name: "explicit values kept", in: Options{BinDir: bins, Nodes: 5, ReadyTimeout: time.Second, StopTimeout: 2 * time.Second, KubeProxyMinSyncPeriod: 100 * time.Millisecond},
			want: Options{BinDir: bins, Nodes: 5, ReadyTimeout: time.Second, StopTimeout: 2 * time.Second, KubeProxyMinSyncPeriod: 100 * time.Millisecond}},
		{name: "negative kube-proxy sync rejected", in: Options{BinDir: bins, KubeProxyMinSyncPeriod: -time.Second}, wantErr: "kube-proxy min sync period: -1s is negative"},
		{name: "negative nodes rejected", in: Options{BinDir: bins, Nodes: -1}, wantErr: "nodes: -1 is out of range"},
		{name: "too many nodes rejected", in: Options{BinDir: bins, Nodes: 101}, wantErr: "nodes: 101 is out of range"},
		{name: "missing binaries named", in: Options{BinDir: t.TempDir()}, wantErr: "[etcd kube-apiserver kube-controller-manager kube-scheduler kwok] missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Resolve()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Resolve() error = %v; want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Resolve() = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestMissingBinariesTellHowToBuildThem(t *testing.T) {
	_, err := Start(context.Background(), Options{BinDir: t.TempDir()})
	if !errors.Is(err, ErrBinariesMissing) || !strings.Contains(err.Error(), "make cluster-bin") {
		t.Fatalf("Start without binaries: %v; want ErrBinariesMissing mentioning make cluster-bin", err)
	}
}

func TestFailingComponentReportsLogTail(t *testing.T) {
	bins := fakeBinDir(t, `echo "fatal: cannot bind data dir ($0)"; exit 3`)
	// A long timeout: the error must come from the exit, not from the wait.
	_, err := Start(context.Background(), Options{BinDir: bins, ReadyTimeout: 10 * time.Minute})
	if err == nil {
		t.Fatal("Start succeeded with a failing etcd")
	}
	for _, want := range []string{"etcd exited", "exit status 3", "fatal: cannot bind data dir", "etcd.log"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "deadline") {
		t.Errorf("error %q is a timeout; a dead component must end the wait at once", err)
	}
}

func TestStageConfigHoldsEveryStage(t *testing.T) {
	data, err := stageConfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"node-initialize", "node-heartbeat-with-lease", "pod-start", "pod-ready", "pod-crash-loop",
		"job-pod-succeed", "job-pod-fail", "pod-delete", "pvc-provision", "pv-delete"} {
		if !strings.Contains(string(data), "name: "+stage+"\n") {
			t.Errorf("stage %s missing from the kwok configuration", stage)
		}
	}
	for _, a := range []string{AnnotationReadyAfter, AnnotationNeverReady, AnnotationCrash, AnnotationFail} {
		if !strings.Contains(string(data), a) {
			t.Errorf("annotation %s not honored by any stage", a)
		}
	}
}

// TestWaitAnsweredPortsAreNeverEphemeral: WaitAnswered dials from ports
// below the node's ephemeral range, so a conntrack entry one of its
// attempts leaves can never meet a connection whose port the kernel picks.
func TestWaitAnsweredPortsAreNeverEphemeral(t *testing.T) {
	for in, want := range map[string][2]int{
		"32768\t60999\n": {31768, 1000},
		"1500 2000":      {1024, 476},
	} {
		base, n, err := portsBelow(in)
		if err != nil || base != want[0] || n != want[1] {
			t.Errorf("portsBelow(%q) = %d, %d, %v; want %d, %d", in, base, n, err, want[0], want[1])
		}
		low, _, _ := strings.Cut(strings.TrimSpace(in), "\t")
		low, _, _ = strings.Cut(low, " ")
		if l, _ := strconv.Atoi(low); base+n > l {
			t.Errorf("portsBelow(%q): ports %d-%d reach into the range", in, base, base+n-1)
		}
	}
	for _, in := range []string{"1024 60999", "", "x 60999"} {
		if _, _, err := portsBelow(in); err == nil {
			t.Errorf("portsBelow(%q) passed", in)
		}
	}
}
