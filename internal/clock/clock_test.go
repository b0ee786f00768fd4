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
