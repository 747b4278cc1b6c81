package stats

import "testing"

func TestMedianAndPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 7, 6, 9, 8}
	if got := Median(xs); got != 5.5 {
		t.Errorf("Median = %v; want 5.5", got)
	}
	if got := Median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("Median of 3 = %v; want 2", got)
	}
	for p, want := range map[float64]float64{0.1: 1, 0.5: 5, 0.9: 9, 0.99: 10, 1: 10} {
		if got := Percentile(xs, p); got != want {
			t.Errorf("Percentile(%v) = %v; want %v", p, got, want)
		}
	}
	if Median(nil) != 0 || Percentile(nil, 0.5) != 0 {
		t.Error("no samples: want 0")
	}
	if xs[0] != 5 {
		t.Error("the samples were reordered")
	}
}
