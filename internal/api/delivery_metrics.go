package api

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/overture-cjo/overture/internal/outbox"
)

// deliveryCollector reports the dispatcher's lanes when scraped.
type deliveryCollector struct {
	stats func() []outbox.LaneStats

	outcomes, inflight, breaker *prometheus.Desc
}

// WatchDelivery adds the dispatcher's figures to the metrics:
// overture_messages_total{connector,outcome}, overture_messages_in_flight
// and overture_connector_breaker_open.
func (m *Metrics) WatchDelivery(stats func() []outbox.LaneStats) {
	m.reg.MustRegister(&deliveryCollector{stats: stats,
		outcomes: prometheus.NewDesc("overture_messages_total", "Delivery results since start by connector and outcome (sent, retried: an attempt failed and another follows, dead: a dead letter, handed_back: claimed but not attempted).", []string{"connector", "outcome"}, nil),
		inflight: prometheus.NewDesc("overture_messages_in_flight", "Messages claimed by a connector's lane and not yet finished.", []string{"connector"}, nil),
		breaker:  prometheus.NewDesc("overture_connector_breaker_open", "1 while the connector's circuit breaker is open or half-open.", []string{"connector"}, nil),
	})
}

func (c *deliveryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.outcomes
	ch <- c.inflight
	ch <- c.breaker
}

func (c *deliveryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, l := range c.stats() {
		name := l.Connector
		if name == "" {
			name = "none:" + strings.Join(l.Channels, ",")
		}
		for _, o := range []struct {
			outcome string
			n       int64
		}{{"sent", l.Sent}, {"retried", l.Retried}, {"dead", l.Dead}, {"handed_back", l.HandedBack}} {
			ch <- prometheus.MustNewConstMetric(c.outcomes, prometheus.CounterValue, float64(o.n), name, o.outcome)
		}
		ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(l.InFlight), name)
		open := 0.0
		if l.Breaker != outbox.BreakerClosed {
			open = 1
		}
		ch <- prometheus.MustNewConstMetric(c.breaker, prometheus.GaugeValue, open, name)
	}
}
