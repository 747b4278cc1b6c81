package localcluster

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupMount is where the cgroup v1 hierarchies are mounted.
const cgroupMount = "/sys/fs/cgroup"

// cgroupRootOf names the cgroup every real node of the cluster in stateDir
// lives under. It is derived from the state directory alone, so a later
// `local up` or `local down` finds what a killed supervisor left.
func cgroupRootOf(stateDir string) string {
	sum := sha256.Sum256([]byte(stateDir))
	return "ragdeploy-" + hex.EncodeToString(sum[:])[:12]
}

// cgroupHierarchies lists the mounted cgroup hierarchies (cpu, memory, ...,
// the named systemd one and the empty unified one), each a directory in
// /sys/fs/cgroup; symlinks such as cpuacct -> cpu,cpuacct are skipped.
func cgroupHierarchies() ([]string, error) {
	entries, err := os.ReadDir(cgroupMount)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && e.Type()&fs.ModeSymlink == 0 {
			out = append(out, filepath.Join(cgroupMount, e.Name()))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no cgroup hierarchies under %s", cgroupMount)
	}
	return out, nil
}

// makeCgroup creates path (relative, e.g. ragdeploy-x/real-0/runtime) in
// every hierarchy. cpuset needs cpus and mems before a task can join, so
// each new level copies its parent's.
func makeCgroup(path string) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		dir := h
		for _, part := range strings.Split(path, "/") {
			dir = filepath.Join(dir, part)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) { //nolint:gosec // G301: cgroup directories are read by the kernel's tools; the mode is the kernel's default
				return fmt.Errorf("create cgroup %s: %w", dir, err)
			}
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if cur, err := os.ReadFile(filepath.Join(dir, f)); err == nil && strings.TrimSpace(string(cur)) == "" { //nolint:gosec // G304: a cgroup file of our own
					parent, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f)) //nolint:gosec // G304: a cgroup file of our own
					if err != nil {
						return err
					}
					if err := os.WriteFile(filepath.Join(dir, f), parent, 0o644); err != nil { //nolint:gosec // G306: a cgroup control file
						return fmt.Errorf("%s: %w", filepath.Join(dir, f), err)
					}
				}
			}
		}
	}
	return nil
}

// joinCgroup moves the calling process into path in every hierarchy; its
// children start there.
func joinCgroup(path string) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	pid := []byte(strconv.Itoa(os.Getpid()))
	for _, h := range hs {
		procs := filepath.Join(h, path, "cgroup.procs")
		if err := os.WriteFile(procs, pid, 0o644); err != nil { //nolint:gosec // G306: a cgroup control file
			return fmt.Errorf("join %s: %w", procs, err)
		}
	}
	return nil
}

// cgroupPIDs returns every process in root or below it, in any hierarchy.
func cgroupPIDs(root string) []int {
	hs, _ := cgroupHierarchies()
	seen := map[int]bool{}
	for _, h := range hs {
		_ = filepath.WalkDir(filepath.Join(h, root), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(p) //nolint:gosec // G304: a cgroup file of our own
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					seen[pid] = true
				}
			}
			return nil
		})
	}
	pids := make([]int, 0, len(seen))
	for pid := range seen {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}

// removeCgroupTree kills every process under root (containers, shims, the
// node's daemons) and removes root's cgroups depth-first in every
// hierarchy. Network and mount namespaces of the nodes go away with their
// last process. It returns an error naming what is left if the tree cannot
// be emptied within timeout.
func removeCgroupTree(root string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pids := cgroupPIDs(root)
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s: processes %v still alive after %v", root, pids, timeout)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond) // polling the kernel's task list; there is no event for an emptied cgroup v1
	}
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hs {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(h, root), func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		// Deepest first: a cgroup with children cannot be removed.
		slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
		for _, d := range dirs {
			if err := removeCgroupDir(d, deadline); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// removeCgroupDir removes one empty cgroup, retrying while the kernel still
// counts a task that has just exited.
func removeCgroupDir(dir string, deadline time.Time) error {
	for {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond) // as above: no event for the last task's release
	}
}

// RealNodeProcesses lists the processes the real nodes of a cluster in
// stateDir run (daemons, shims, containers); after Cleanup there are none.
func RealNodeProcesses(stateDir string) ([]int, error) {
	name, err := CgroupName(stateDir)
	if err != nil {
		return nil, err
	}
	return cgroupPIDs(name), nil
}

// CgroupName is the cgroup, in every hierarchy, of the real nodes of a
// cluster in stateDir.
func CgroupName(stateDir string) (string, error) {
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return "", err
	}
	return cgroupRootOf(abs), nil
}
