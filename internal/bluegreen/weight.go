package bluegreen

import "fmt"

// CanaryPods is how many canary pods, beside replicas stable ones, carry
// about weight percent of the traffic a Service spreads over both: the
// nearest count to weight/(100-weight) per stable pod, at least one.
func CanaryPods(weight, replicas int32) int32 {
	if weight <= 0 || replicas <= 0 {
		return 0
	}
	if weight >= 100 {
		return replicas
	}
	// round(weight*replicas/(100-weight)) in integers.
	d := 100 - weight
	return max((2*weight*replicas+d)/(2*d), 1)
}

// WeightOf says how much of the traffic canary pods of total carry, e.g.
// "25% (1 of 4 pods)".
func WeightOf(canary, total int32) string {
	return fmt.Sprintf("%d%% (%d of %d pods)", percent(canary, total), canary, total)
}

// percent is part of total in percent, rounded to the nearest.
func percent(part, total int32) int32 {
	if total <= 0 {
		return 0
	}
	return (200*part + total) / (2 * total)
}
