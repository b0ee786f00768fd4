package clock

import (
	"testing"
	"time"
)

func TestFake(t *testing.T) {
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	f := NewFake(at)
	if !f.Now().Equal(at) {
		t.Errorf("Now %v, want %v", f.Now(), at)
	}
	f.Advance(90 * time.Second)
	if want := at.Add(90 * time.Second); !f.Now().Equal(want) {
		t.Errorf("after Advance: %v, want %v", f.Now(), want)
	}
	f.Set(at)
	if !f.Now().Equal(at) {
		t.Errorf("after Set: %v", f.Now())
	}
	if _, ok := Or(nil).(System); !ok {
		t.Error("Or(nil) is not the system clock")
	}
	if Or(f) != Clock(f) {
		t.Error("Or(f) is not f")
	}
}

func TestOffset(t *testing.T) {
	base := NewFake(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	for _, by := range []time.Duration{0, 6*time.Minute + 30*time.Second, -2 * time.Minute} {
		c := Offset{Base: base, By: by}
		if got, want := c.Now(), base.Now().Add(by); !got.Equal(want) {
			t.Errorf("Offset by %v: %v, want %v", by, got, want)
		}
	}
	// It follows its base.
	c := Offset{Base: base, By: -time.Minute}
	base.Advance(time.Hour)
	if got, want := c.Now(), time.Date(2026, 11, 27, 9, 59, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("after the base moved: %v, want %v", got, want)
	}
	// On the system clock by default.
	sys := Offset{By: 6 * time.Minute}
	before := time.Now()
	got := sys.Now()
	after := time.Now()
	if got.Before(before.Add(6*time.Minute)) || got.After(after.Add(6*time.Minute)) {
		t.Errorf("system clock offset by 6m: %v, not between %v and %v", got, before.Add(6*time.Minute), after.Add(6*time.Minute))
	}
}
