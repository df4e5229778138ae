package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ocellus/ocellus/internal/jobs"
)

// codeOK is the code label of a request answered without an error.
const codeOK = "OK"

// metrics are the server's Prometheus metrics, on a registry of its own
// (never the global default: two servers in one process, as in tests, do
// not share counters). Requests are counted once, where the routing table
// dispatches them (Server.ServeHTTP); jobs and hosted units are read when
// scraped, so every node reports the shared queue's numbers and its own
// units.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  http.Handler
}

// Labels of the request metrics: the service is the routing table row's
// (rekognition, lookoutvision, s3, or refused), the operation the one the
// front-end's dispatch table found ("" when it found none), the code the
// AWS error code answered, or OK. All three are bounded sets: operations and
// codes come from the front-ends' tables, never from the request.
var requestLabels = []string{"service", "operation", "code"}

// state is what the metrics read at scrape time.
type state struct {
	node  string
	jobs  func(context.Context) ([]jobs.Count, error) // nil: no queue
	units func() map[string]int                       // service -> units; nil: none
}

func newMetrics(st state, log *slog.Logger) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "ocellus", Name: "requests_total",
		Help: "AWS API requests answered, by service, operation and error code (OK for success).",
	}, requestLabels)
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "ocellus", Name: "request_duration_seconds",
		Help: "Time to answer an AWS API request, by service and operation.",
		// From a cached Describe (~1 ms) to a large PutObject or a
		// DetectAnomalies queued behind others (seconds).
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, requestLabels[:2])
	m.reg.MustRegister(m.requests, m.latency, &stateCollector{st: st},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, ErrorLog: errorLog{log}})
	return m
}

// errorLog passes promhttp's scrape errors (a failed job count) to the
// server's log.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) { l.log.Warn("metrics: " + fmt.Sprint(v...)) }

// observe records one answered request.
func (m *metrics) observe(service, op, code string, took time.Duration) {
	if code == "" {
		code = codeOK
	}
	m.requests.WithLabelValues(service, op, code).Inc()
	m.latency.WithLabelValues(service, op).Observe(took.Seconds())
}

var (
	jobsDesc = prometheus.NewDesc("ocellus_jobs",
		"Jobs in the queue by kind and River state (the queue is shared by every node on one database).",
		[]string{"kind", "state"}, nil)
	unitsDesc = prometheus.NewDesc("ocellus_inference_units",
		"Inference units this node hosts now, by service (rekognition: Custom Labels versions, lookoutvision: models).",
		[]string{"node", "service"}, nil)
	nodeDesc = prometheus.NewDesc("ocellus_node_info", "Always 1; names the node (--node-id).", []string{"node"}, nil)
)

// stateCollector reads the job queue and the hosting pools when scraped.
type stateCollector struct{ st state }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- unitsDesc
	ch <- nodeDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(nodeDesc, prometheus.GaugeValue, 1, c.st.node)
	if c.st.units != nil {
		for service, n := range c.st.units() {
			ch <- prometheus.MustNewConstMetric(unitsDesc, prometheus.GaugeValue, float64(n), c.st.node, service)
		}
	}
	if c.st.jobs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		counts, err := c.st.jobs(ctx)
		if err != nil {
			// The rest of the scrape still answers; the error is reported
			// (promhttp.ContinueOnError) and the job samples are missing.
			ch <- prometheus.NewInvalidMetric(jobsDesc, err)
			return
		}
		for _, n := range counts {
			ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n.Jobs), n.Kind, n.State)
		}
	}
}

// serveMetrics answers GET /_ocellus/metrics in the Prometheus text format
// (or OpenMetrics, when the scraper asks for it). Unauthenticated, like
// the health endpoint; it names no account or resource.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if getOrHead(w, r) {
		s.metrics.handler.ServeHTTP(w, r)
	}
}
