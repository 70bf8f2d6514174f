// Package retry runs a call again, with exponential backoff and jitter, while it fails with a
// Transient error and the context's deadline leaves room for another attempt.
package retry

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"time"
)

// Transient marks a failure worth another attempt: no answer, IPResMgr Code 50, HTTP 502/503/504/429.
type Transient struct {
	Err error
}

func (t *Transient) Error() string { return t.Err.Error() }
func (t *Transient) Unwrap() error { return t.Err }

// GaveUp is returned when the deadline came while the call still failed transiently.
type GaveUp struct {
	Attempts int
	Elapsed  time.Duration
	Last     error
}

func (g *GaveUp) Error() string {
	return fmt.Sprintf("no success after %d attempts in %.1fs: %v", g.Attempts, g.Elapsed.Seconds(), g.Last)
}
func (g *GaveUp) Unwrap() error { return g.Last }

// Policy is the backoff: First, doubled each time up to Max, each sleep scaled by 0.75-1.25.
type Policy struct {
	First time.Duration
	Max   time.Duration
}

// Default waits 0.2s, 0.4s, 0.8s, 1.6s, then 3s between attempts.
var Default = Policy{First: 200 * time.Millisecond, Max: 3 * time.Second}

// Do calls fn until it succeeds, fails with a non-Transient error, or ctx's deadline is too close
// for another attempt (a GaveUp carrying the last Transient error). Near the deadline the sleep
// shrinks to half of what is left, so the last attempt still has time to answer.
func (p Policy) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	start := time.Now()
	sleep := p.First
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		var transient *Transient
		if err == nil || !errors.As(err, &transient) {
			return err
		}
		wait := time.Duration(float64(sleep) * (0.75 + rand.Float64()/2))
		if deadline, ok := ctx.Deadline(); ok {
			// Near the deadline: one more attempt half-way through what is left, or none at all.
			remaining := time.Until(deadline)
			if remaining < 100*time.Millisecond {
				return &GaveUp{Attempts: attempt, Elapsed: time.Since(start), Last: transient.Err}
			}
			if wait > remaining/2 {
				wait = remaining / 2
			}
		}
		if ctx.Err() != nil {
			return &GaveUp{Attempts: attempt, Elapsed: time.Since(start), Last: transient.Err}
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return &GaveUp{Attempts: attempt, Elapsed: time.Since(start), Last: transient.Err}
		}
		if sleep *= 2; sleep > p.Max {
			sleep = p.Max
		}
	}
}
