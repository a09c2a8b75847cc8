package rest

import (
	"sync"
	"time"
)

// waiters are the requests of responseExpected endpoints waiting for a
// shared attribute of their device.
type waiters struct {
	mu sync.Mutex
	m  map[[2]string][]chan any
}

func (w *waiters) add(device, key string) chan any {
	ch := make(chan any, 1)
	w.mu.Lock()
	if w.m == nil {
		w.m = map[[2]string][]chan any{}
	}
	k := [2]string{device, key}
	w.m[k] = append(w.m[k], ch)
	w.mu.Unlock()
	return ch
}

func (w *waiters) remove(device, key string, ch chan any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := [2]string{device, key}
	list := w.m[k]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(w.m, k)
	} else {
		w.m[k] = list
	}
}

// deliver hands v to every request waiting for key of device and reports
// how many there were.
func (w *waiters) deliver(device, key string, v any) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := [2]string{device, key}
	list := w.m[k]
	for _, c := range list {
		select {
		case c <- v:
		default:
		}
	}
	delete(w.m, k)
	return len(list)
}

func newTimer(d time.Duration) *time.Timer { return time.NewTimer(d) }
