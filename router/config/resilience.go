package config

import (
	"fmt"
	"time"
)

// Resilience bounds what one request, one client and one subgraph can hold:
// timeouts, per-subgraph bulkheads and circuit breakers (router/transport),
// and the headers passed on to subgraphs. Zero values are the defaults.
type Resilience struct {
	// RequestTimeout bounds one GraphQL request (0: 30s).
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// SubgraphTimeout bounds one subgraph request (0: 30s).
	SubgraphTimeout time.Duration `yaml:"subgraph_timeout"`
	// SubgraphMaxInFlight bounds the requests in flight to each subgraph
	// (0: three quarters of execution.max_executions).
	SubgraphMaxInFlight int `yaml:"subgraph_max_in_flight"`
	// BreakerFailures failed requests in a row open a subgraph's breaker
	// (0: 5; negative: no breakers); it stays open BreakerCooldown (0: 5s).
	BreakerFailures int           `yaml:"breaker_failures"`
	BreakerCooldown time.Duration `yaml:"breaker_cooldown"`
	// ForwardHeaders are request headers passed on to subgraphs besides
	// Authorization, traceparent, tracestate and X-Request-Id.
	ForwardHeaders []string `yaml:"forward_headers"`
}

func (r Resilience) validate() []error {
	var errs []error
	for name, d := range map[string]time.Duration{"request_timeout": r.RequestTimeout,
		"subgraph_timeout": r.SubgraphTimeout, "breaker_cooldown": r.BreakerCooldown} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("resilience.%s: must not be negative", name))
		}
	}
	if r.SubgraphMaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("resilience.subgraph_max_in_flight: must not be negative"))
	}
	return errs
}
