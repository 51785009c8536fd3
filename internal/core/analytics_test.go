package core

import (
	"testing"
	"time"
)

func TestStatDay(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want int
	}{
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), 20260301},
		{time.Date(2026, 12, 31, 23, 59, 59, 999, time.UTC), 20261231},
		{time.Date(2026, 3, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600)), 20260301},  // midnight UTC
		{time.Date(2026, 3, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), 20260228}, // still the 28th in UTC
	} {
		if got := StatDay(tc.at); got != tc.want {
			t.Errorf("StatDay(%v) = %d, want %d", tc.at, got, tc.want)
		}
		if d := StatDate(tc.want); StatDay(d) != tc.want || d.Hour() != 0 || d.Location() != time.UTC {
			t.Errorf("StatDate(%d) = %v", tc.want, d)
		}
	}
}

func TestStatDims(t *testing.T) {
	for _, tc := range []struct{ channel, offer, dim string }{
		{"email", "", "email/"}, {"email", "spring-sale", "email/spring-sale"}, {"carrier-pigeon", "", "carrier-pigeon/"}, {"sms", "a/b", "sms/a/b"},
	} {
		if got := MessageDim(tc.channel, tc.offer); got != tc.dim {
			t.Errorf("MessageDim(%q, %q) = %q", tc.channel, tc.offer, got)
		}
		if c, o := SplitMessageDim(tc.dim); c != tc.channel || o != tc.offer {
			t.Errorf("SplitMessageDim(%q) = %q, %q", tc.dim, c, o)
		}
	}
	if arm, b, ok := SplitTimeToGoalDim(TimeToGoalDim(ArmControl, 17)); !ok || arm != ArmControl || b != 17 {
		t.Errorf("time to goal dim: %q %d %v", arm, b, ok)
	}
	for _, bad := range []string{"", "control", "control:", "control:x", "control:-1"} {
		if _, _, ok := SplitTimeToGoalDim(bad); ok {
			t.Errorf("SplitTimeToGoalDim(%q) ok", bad)
		}
	}
}

func TestSumJourneyStats(t *testing.T) {
	st := func(journey string, version int, step, metric, dim string, day int, n int64) JourneyStat {
		return JourneyStat{Journey: journey, Version: version, Step: step, Metric: metric, Dim: dim, Day: day, N: n}
	}
	got := SumJourneyStats([]JourneyStat{
		st("b", 1, "", StatEntered, ArmTreatment, 20260301, 1),
		st("a", 2, "x", StatReached, "", 0, 1),
		st("a", 10, "x", StatReached, "", 0, 1),
		st("b", 1, "", StatEntered, ArmTreatment, 20260301, 2),
		st("a", 2, "x", StatReached, "", 0, 1),
		st("a", 2, "x", StatExited, "gone", 0, 1),
		st("a", 2, "x", StatExited, "gone", 0, -1), // sums to zero: left out
		st("b", 1, "", StatEntered, ArmTreatment, 20260302, 1),
	})
	want := []JourneyStat{
		st("a", 2, "x", StatReached, "", 0, 2),
		st("a", 10, "x", StatReached, "", 0, 1),
		st("b", 1, "", StatEntered, ArmTreatment, 20260301, 3),
		st("b", 1, "", StatEntered, ArmTreatment, 20260302, 1),
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if SumJourneyStats(nil) != nil {
		t.Error("no deltas, some sums")
	}
}

// BenchmarkSumJourneyStats: the deltas of a 1,000-input batch of the
// reference journey (an entry, three visits, a send and an exit per
// journey) summed before they are written.
func BenchmarkSumJourneyStats(b *testing.B) {
	var deltas []JourneyStat
	for range 1000 {
		for _, st := range []JourneyStat{
			{Metric: StatEntered, Dim: ArmTreatment, Day: 20260301}, {Step: "wait", Metric: StatReached},
			{Step: "remind", Metric: StatReached}, {Step: "remind", Metric: StatSent, Dim: "email/", Day: 20260301},
			{Step: "done", Metric: StatReached}, {Step: "done", Metric: StatExited, Dim: "reminded"},
		} {
			st.Journey, st.Version, st.N = "bench-reference", 1, 1
			deltas = append(deltas, st)
		}
	}
	for b.Loop() {
		SumJourneyStats(deltas)
	}
	b.ReportMetric(float64(b.N*len(deltas))/b.Elapsed().Seconds(), "deltas/s")
}
