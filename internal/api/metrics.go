package api

import (
	"net/http"

	"github.com/overture-cjo/overture/internal/core"
	"github.com/overture-cjo/overture/internal/engine"
	"github.com/overture-cjo/overture/internal/ingest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus collectors served at /metrics.
type Metrics struct {
	reg        *prometheus.Registry
	ingested   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	ackLatency *prometheus.HistogramVec

	decisionsDropped prometheus.Counter
}

// NewMetrics registers Overture's metrics; engine and committer figures are
// read when scraped.
func NewMetrics(eng *engine.Engine, com *ingest.Committer, clock core.Clock) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.ingested = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "overture_events_ingested_total", Help: "Events acknowledged (durably appended), by route.",
	}, []string{"route"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "overture_events_rejected_total", Help: "Rejected requests by route and error code; code \"item\" counts items rejected inside an accepted batch.",
	}, []string{"route", "code"})
	m.ackLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "overture_ingest_ack_seconds", Help: "Time from request start to durable acknowledgement.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	m.decisionsDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "overture_touchpoint_events_dropped_total", Help: "touchpoint_decision events not recorded on the timeline (too many waiting for the log, or the append failed).",
	})
	m.reg.MustRegister(m.ingested, m.rejected, m.ackLatency, m.decisionsDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_events_deduplicated_total", Help: "Events dropped because their messageId was already applied within the dedupe window."},
			func() float64 { return float64(eng.Stats().Duplicates) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_events_applied_total", Help: "Events applied to profiles."},
			func() float64 { return float64(eng.Stats().Applied) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_group_commits_total", Help: "Durable writes of the event log (each acknowledges a group of requests)."},
			func() float64 { g, _ := com.Stats(); return float64(g) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_profile_merges_total", Help: "Profiles merged by identity resolution."},
			func() float64 { return float64(eng.Stats().Merges) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "overture_worker_lag_events", Help: "Events acknowledged but not yet routed, plus inputs queued at partition workers."},
			func() float64 {
				s := eng.Stats()
				return float64(max(0, s.LastOffered-s.LastRouted) + int64(s.Queued))
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "overture_worker_lag_seconds", Help: "Age of the last applied event when work is pending (0 when idle)."},
			func() float64 {
				if eng.Idle() {
					return 0
				}
				s := eng.Stats()
				if s.LastApplied.IsZero() {
					return 0
				}
				return clock.Now().Sub(s.LastApplied).Seconds()
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_journey_entries_total", Help: "Journey instances started."},
			func() float64 { return float64(eng.Stats().Entered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_journey_transitions_total", Help: "Journey steps run."},
			func() float64 { return float64(eng.Stats().Transitions) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_journey_messages_total", Help: "Messages queued in the outbox by send steps."},
			func() float64 { return float64(eng.Stats().Messages) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_journey_timers_fired_total", Help: "Due timers handled (waits, wait_for and webhook timeouts)."},
			func() float64 { return float64(eng.Stats().TimersFired) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_journey_exits_total", Help: "Journey instances ended (goal, exit criteria, exit steps)."},
			func() float64 { return float64(eng.Stats().Ended) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_decisions_total", Help: "Arbitration decisions of send steps, by outcome.", ConstLabels: prometheus.Labels{"outcome": "send"}},
			func() float64 { return float64(eng.Stats().Decisions.Sent) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_decisions_total", Help: "Arbitration decisions of send steps, by outcome.", ConstLabels: prometheus.Labels{"outcome": "delay"}},
			func() float64 { return float64(eng.Stats().Decisions.Delayed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_decisions_total", Help: "Arbitration decisions of send steps, by outcome.", ConstLabels: prometheus.Labels{"outcome": "suppress"}},
			func() float64 { return float64(eng.Stats().Decisions.Suppressed) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_audience_events_total", Help: "Audience events (entered, exited, refreshed) appended to the event log."},
			func() float64 { return float64(eng.Stats().AudienceEvents) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "overture_traits_backfilled_profiles_total", Help: "Profiles whose computed traits were rebuilt from their timeline."},
			func() float64 { return float64(eng.Stats().Backfilled) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "overture_journey_timer_lateness_max_seconds", Help: "The latest any timer has fired after its due time since start."},
			func() float64 { return eng.Stats().Lateness.Max.Seconds() }),
	)
	return m
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
