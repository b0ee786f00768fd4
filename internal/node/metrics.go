package node

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what a node does, for Prometheus.
type Metrics struct {
	Accepted  prometheus.Counter
	Duplicate prometheus.Counter
	Refused   *prometheus.CounterVec // by code
	Sent      prometheus.Counter
	Receipts  prometheus.Counter
	AcceptDur prometheus.Histogram
	// RecordFailed counts receipts issued whose record in the store
	// failed after the response (the node tries again, and start-up records
	// them).
	RecordFailed prometheus.Counter
	// ReceiptsRefused counts recipients' receipts refused, by code (an
	// alert: a recipient signed something that cannot be its receipt).
	ReceiptsRefused *prometheus.CounterVec
}

// NewMetrics returns the node's metrics, registered with reg if it is not
// nil (each node of a process has its own registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_envelopes_accepted_total", Help: "Envelopes accepted and receipted.",
		}),
		Duplicate: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_envelopes_duplicate_total", Help: "Envelopes received again, answered with the stored receipt.",
		}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_envelopes_refused_total", Help: "Envelopes refused, by refusal code.",
		}, []string{"code"}),
		Sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_envelopes_sent_total", Help: "Envelopes sealed, stored and queued for delivery.",
		}),
		Receipts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_receipts_recorded_total", Help: "Recipients' receipts verified and recorded.",
		}),
		AcceptDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hotline_accept_seconds", Help: "Time to accept an envelope, from parse to receipt.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		RecordFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_receipt_records_failed_total", Help: "Receipts issued whose record in the store failed afterwards.",
		}),
		ReceiptsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_receipts_refused_total", Help: "Recipients' receipts refused, by refusal code.",
		}, []string{"code"}),
	}
	if reg != nil {
		reg.MustRegister(m.Accepted, m.Duplicate, m.Refused, m.Sent, m.Receipts, m.AcceptDur, m.RecordFailed, m.ReceiptsRefused)
	}
	return m
}
