package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

var fast = Policy{First: time.Millisecond, Max: 5 * time.Millisecond}

func TestRetriesTransientUntilSuccess(t *testing.T) {
	calls := 0
	err := fast.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 3 {
			return &Transient{Err: errors.New("busy")}
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

func TestOtherErrorsAreNotRetried(t *testing.T) {
	calls := 0
	boom := errors.New("refused")
	err := fast.Do(context.Background(), func(context.Context) error { calls++; return boom })
	if err != boom || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

func TestGivesUpAtTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	calls := 0
	start := time.Now()
	err := fast.Do(ctx, func(context.Context) error { calls++; return &Transient{Err: errors.New("down")} })
	var gaveUp *GaveUp
	if !errors.As(err, &gaveUp) || gaveUp.Attempts != calls || calls < 2 || gaveUp.Last.Error() != "down" {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	if time.Since(start) > 10*time.Second { // a bound, not a timing: it must not run on and on
		t.Fatal("overran the deadline")
	}
}
