package strategies

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// PerformedCounter is offload_jobs_performed_total{result}: the jobs a
// strategy's web process ran itself (foreground, fireforget), registered on
// reg when it is not nil, labelled with the strategy's name.
func PerformedCounter(strategy string, reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name:        "offload_jobs_performed_total",
		Help:        "Jobs the web process performed itself, by result.",
		ConstLabels: prometheus.Labels{"strategy": strategy},
	}, []string{"result"})
	if reg != nil {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("%s: register metrics: %w", strategy, err)
		}
	}
	return c, nil
}
